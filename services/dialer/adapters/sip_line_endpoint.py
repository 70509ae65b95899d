"""The pjsua2 set-up of a SIP line worker (adapters.sip_line): its endpoint, SIP transports,
codecs and one account per trunk.

The endpoint runs no thread of its own (threadCnt 0, no media ioqueue): SIP and RTP are both
polled from the worker's loop by libHandleEvents, so every pjsua callback runs on the main
thread (adapters.sip_line says why no other thread may touch pjsua). The caller owns what
these functions hand back and lets go of every account before it destroys the library.
"""

from __future__ import annotations

from typing import Any

import pjsua2 as pj

from services.dialer.adapters.sip_line_io import Config
from services.dialer.adapters.sip_pool import LINES

TRANSPORT_TRIES = 20  # SIP port 0: how often a free UDP port whose TCP twin is busy is traded for another


def start_endpoint(ep: pj.Endpoint, cfg: Config) -> tuple[str, int]:
    """Creates and starts the library on `ep`; answers the SIP host and port it listens on
    (UDP, and TCP on the same port when a trunk uses TCP)."""
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    ep_cfg.uaConfig.maxCalls = LINES
    ep_cfg.uaConfig.userAgent = "Outbound"
    ep_cfg.medConfig.clockRate = 8000
    ep_cfg.medConfig.sndClockRate = 8000
    ep_cfg.medConfig.hasIoqueue = False  # RTP (and so RFC 4733 digits) on the main thread
    ep_cfg.medConfig.threadCnt = 0
    ep_cfg.medConfig.noVad = True
    ep_cfg.logConfig.level = 2
    ep_cfg.logConfig.consoleLevel = 2
    ep.libInit(ep_cfg)
    tcfg = pj.TransportConfig()
    tcfg.boundAddress = cfg.host
    tcfg.port = cfg.port
    if cfg.public_addr:
        tcfg.publicAddress = cfg.public_addr
    wants_tcp = any(t["transport"] == "tcp" for t in cfg.trunks)
    for tries_left in range(TRANSPORT_TRIES, -1, -1):
        tcfg.port = cfg.port
        udp = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        host, port = ep.transportGetInfo(udp).localName.rsplit(":", 1)
        if not wants_tcp:
            break
        tcfg.port = int(port)
        try:
            ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
            break
        except pj.Error:
            # Any free UDP port was taken; its TCP twin may be busy: take another pair.
            if cfg.port or not tries_left:
                raise
            ep.transportClose(udp)
    ep.audDevManager().setNullDev()
    ep.libStart()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 0)
    ep.codecSetPriority("PCMU/8000", 255)
    ep.codecSetPriority("PCMA/8000", 254)
    return host, int(port)


def trunk_account(cfg: Config, host: str, trunk: dict[str, Any]) -> pj.Account:
    """The account calls to `trunk` leave from: its digest credentials and our RTP ports."""
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:outbound@{host}"
    acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL  # honoured when the far end asks
    acfg.callConfig.prackUse = pj.PJSUA_100REL_NOT_USED
    if trunk.get("username"):
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", trunk["username"], 0, trunk["password"]))
    media = acfg.mediaConfig.transportConfig
    media.boundAddress = cfg.host
    if cfg.public_addr:
        media.publicAddress = cfg.public_addr
    media.port = cfg.rtp_lo
    media.portRange = cfg.rtp_hi - cfg.rtp_lo
    account = pj.Account()
    account.create(acfg)
    return account
