"""Starting and stopping the sandbox: bind every site on 127.0.0.1, then write profiles and ground truth.

Python API (docs/architecture.md § Sandbox runtime)::

    sb = sandbox.server.start(["sbx-shu"], base_port=0, directory=tmp)
    ... sb.config_dir, sb.ground_truth_dir, sb.portal_ids, sb.urls ...
    sb.stop()

``start`` runs the sites in a background thread with its own event loop; ``serve`` runs them in the
foreground until SIGINT/SIGTERM (the CLI).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sandbox import ca
from sandbox.provinces import PROVINCES, family_of
from sandbox.truth import ground_truth
from sandbox.web import channels, sso
from sandbox.web.kit import Concurrency, Listener, Runtime
from zwaudit.config.schema import PortalProfile
from zwaudit.errors import RunError, UsageError
from zwaudit.paths import var_dir

PORTS_PER_PROVINCE = 20
DEFAULT_BASE_PORT = 28000
OFFSETS = {"portal": 0, "portal_http": 1, "auth": 2, "auth_http": 3, "mobile": 4}  # dept i: 5 + i
EXTRA_OFFSET = 8  # a province's own extra sites (``EXTRA_SITES``): 8, 9, … in declaration order
REFUSED = "refused"  # an extra site's scheme: the port is held bound but never listens


def province_index(pid: str) -> int:
    """Where a province's ports start (base + 20 × index): its ``INDEX``, else its registry order."""
    module = PROVINCES[pid]
    return int(getattr(module, "INDEX", list(PROVINCES).index(pid)))


def default_directory() -> Path:
    return var_dir() / "sandbox"


@dataclass
class _Running:
    runners: list[web.AppRunner] = field(default_factory=list)
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    held: list[socket.socket] = field(default_factory=list)  # bound, never listening: refused ports
    concurrency: Concurrency = field(default_factory=Concurrency)


@dataclass
class Sandbox:
    """A running sandbox. ``urls[portal_id][site]`` is the base URL of each site."""

    directory: Path
    portal_ids: list[str]
    urls: dict[str, dict[str, str]]
    _stop: Callable[[], None] = field(repr=False)
    concurrency: Concurrency = field(default_factory=Concurrency, repr=False)

    @property
    def config_dir(self) -> Path:
        return self.directory / "config"

    @property
    def ground_truth_dir(self) -> Path:
        return self.directory / "ground_truth"

    @property
    def ca_bundle(self) -> Path:
        return self.directory / "ca" / "ca.pem"

    @property
    def captcha_dir(self) -> Path:
        return self.directory / "captcha"

    def ground_truth(self, portal_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.ground_truth_dir / f"{portal_id}.json").read_text(encoding="utf-8")
        )
        return data

    def stop(self) -> None:
        self._stop()


def default_provinces() -> list[str]:
    """The provinces started when none are named: all but the opt-in ones (``OPT_IN = True``: the
    hostile sbx-xian, whose tarpits and floods would make every demo and test run take minutes)."""
    return [pid for pid, module in PROVINCES.items() if not getattr(module, "OPT_IN", False)]


def all_provinces() -> list[str]:
    """Every province, the opt-in ones included."""
    return list(PROVINCES)


def _choose(provinces: list[str] | tuple[str, ...] | None) -> list[str]:
    if not provinces:
        return default_provinces()
    unknown = [p for p in provinces if p not in PROVINCES]
    if unknown:
        raise UsageError(f"unknown sandbox province {unknown[0]!r} (known: {', '.join(PROVINCES)})")
    return list(dict.fromkeys(provinces))


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RunError(f"sandbox: cannot bind 127.0.0.1:{port}: {exc.strerror}") from exc
    return sock


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)


def _profile(rt: Runtime, ca_pem: Path) -> dict[str, Any]:
    plan = rt.plan
    pid = plan.id
    ref = {k: {"secret": f"{pid}.{k}"} for k in ("username", "password", "name", "id_number", "phone")}
    return {
        "id": pid,
        "name": plan.name,
        "home_url": rt.url("portal", plan.home_path),
        "province": plan.province,
        "level": plan.level,
        "ca_bundle": str(ca_pem),
        "account": ref,
        "departments": [
            {
                "id": d.id,
                "name": f"{plan.province}{d.name}",
                "url": rt.url(f"dept:{d.id}", "/"),
                "catalogue_url": rt.url(f"dept:{d.id}", d.catalogue_path),
            }
            for d in plan.depts
        ],
        "mobile": {
            "url": rt.url("mobile", plan.mobile_path),
            "catalogue_url": rt.url("mobile", plan.mobile_path),
        },
        "politeness": {"concurrency_per_host": 2, "delay_seconds": 0},
        # every site of the province lives on 127.0.0.1: its origins are the profile's own, so the
        # egress policy lets zwaudit reach them (and nothing else on loopback)
        "egress": {"allow": sorted(lst.base for lst in rt.listeners.values())},
        "tags": ["sandbox"],
    }


def _write_files(directory: Path, runtimes: dict[str, Runtime], ca_pem: Path) -> None:
    portals = directory / "config" / "portals"
    portals.mkdir(parents=True, exist_ok=True)
    truth_dir = directory / "ground_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    for stale in portals.glob("sbx-*.yaml"):
        if stale.stem not in runtimes:
            stale.unlink()
    secrets: dict[str, str] = {}
    for pid, rt in runtimes.items():
        profile = _profile(rt, ca_pem)
        PortalProfile.model_validate(profile)  # never write a profile the auditor would reject
        (portals / f"{pid}.yaml").write_text(
            "# Generated by `zwaudit sandbox serve`; rewritten on every start.\n"
            + yaml.safe_dump(profile, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        a = rt.plan.account
        secrets.update(
            {
                f"{pid}.username": a.username,
                f"{pid}.password": a.password,
                f"{pid}.name": a.name,
                f"{pid}.id_number": a.id_number,
                f"{pid}.phone": a.phone,
            }
        )
        notes = getattr(PROVINCES[pid], "truth_notes", None)
        truth = ground_truth(rt, profile["home_url"], family_of(pid), notes(rt) if notes else None)
        (truth_dir / f"{pid}.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    _write_private(directory / "config" / "secrets.yaml", yaml.safe_dump(secrets, allow_unicode=True))
    urls = {pid: {site: lst.base for site, lst in rt.listeners.items()} for pid, rt in runtimes.items()}
    (directory / "sandbox.json").write_text(
        json.dumps({"urls": urls}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def _listeners(pid: str, index: int, base_port: int) -> dict[str, Listener]:
    module = PROVINCES[pid]
    plan = module.plan()
    sites = {
        "portal": "https" if plan.portal_https else "http",
        "portal_http": "http",
        "auth": "https",
        "auth_http": "http",
        "mobile": "https",
    }
    out = {}
    for site, scheme in sites.items():
        port = base_port + index * PORTS_PER_PROVINCE + OFFSETS[site] if base_port else 0
        out[site] = Listener(site, scheme, port)
    for i, dept in enumerate(plan.depts):
        port = base_port + index * PORTS_PER_PROVINCE + 5 + i if base_port else 0
        out[f"dept:{dept.id}"] = Listener(f"dept:{dept.id}", "https" if i % 2 == 0 else "http", port)
    for i, (site, scheme) in enumerate(getattr(module, "EXTRA_SITES", {}).items()):
        port = base_port + index * PORTS_PER_PROVINCE + EXTRA_OFFSET + i if base_port else 0
        out[site] = Listener(site, scheme, port)
    return out


async def _open(provinces: list[str], base_port: int, directory: Path) -> _Running:
    # absolute, so that the profiles point at the CA wherever they are read from (a relative
    # --dir would otherwise be resolved against the profile's own folder)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    certs = ca.load_or_create(directory / "ca")
    running = _Running()
    bound: list[tuple[Runtime, Listener, socket.socket]] = []
    try:
        for pid in provinces:
            index = province_index(pid)
            listeners = _listeners(pid, index, base_port)
            rt = Runtime(PROVINCES[pid].plan(), listeners, str(directory / "captcha"))
            for lst in listeners.values():
                sock = _bind(lst.port)
                lst.port = sock.getsockname()[1]
                bound.append((rt, lst, sock))
            running.runtimes[pid] = rt
        for pid, rt in running.runtimes.items():
            module = PROVINCES[pid]
            apps: dict[str, web.Application] = {"portal": module.build_portal(rt), "auth": sso.build(rt)}
            # a province family with its own channel markup brings its own department and H5 apps
            build_mobile = getattr(module, "build_mobile", channels.build_mobile)
            build_dept = getattr(module, "build_dept", channels.build_dept)
            apps["mobile"] = build_mobile(rt)
            for dept in rt.plan.depts:
                apps[f"dept:{dept.id}"] = build_dept(rt, dept)
            extra_apps = getattr(module, "extra_apps", None)
            apps.update(extra_apps(rt) if extra_apps else {})
            site_context = getattr(module, "ssl_context", None)
            wrap = getattr(module, "middlewares", None)
            for app in apps.values():
                for mw in reversed(wrap(rt) if wrap else []):
                    app.middlewares.insert(0, mw)
                app.middlewares.insert(0, running.concurrency.middleware())  # outermost: every request
            for name, app in apps.items():
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                running.runners.append(runner)
                for owner, lst, sock in bound:
                    if owner is rt and (lst.site == name or lst.site == f"{name}_http"):
                        context: ssl.SSLContext | None = None
                        if lst.scheme == "https":
                            untrusted = name == "auth" and rt.plan.auth.untrusted_cert
                            context = certs.untrusted if untrusted else certs.server
                            if site_context is not None:
                                context = site_context(lst.site, certs, directory / "ca") or context
                        site = web.SockSite(runner, sock, ssl_context=context)
                        await site.start()
            for owner, lst, sock in bound:
                if owner is rt and lst.scheme == REFUSED:
                    running.held.append(sock)  # connect() to a bound, non-listening port: ECONNREFUSED
        _write_files(directory, running.runtimes, certs.ca_pem)
    except BaseException:
        await _close(running)
        for _, _, sock in bound:
            sock.close()
        raise
    return running


async def _close(running: _Running) -> None:
    for runner in running.runners:
        await runner.cleanup()
    running.runners.clear()
    for sock in running.held:
        sock.close()
    running.held.clear()


def start(
    provinces: list[str] | tuple[str, ...] | None = None,
    base_port: int = 0,
    directory: str | Path | None = None,
) -> Sandbox:
    """Start the sandbox in a background thread; returns once every site listens and files are written."""
    chosen = _choose(provinces)
    root = Path(directory) if directory is not None else default_directory()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome["running"] = loop.run_until_complete(_open(chosen, base_port, root))
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(_close(outcome["running"]))
        loop.close()

    thread = threading.Thread(target=run, name="zwaudit-sandbox", daemon=True)
    thread.start()
    ready.wait()
    if "error" in outcome:
        thread.join()
        raise outcome["error"]
    running: _Running = outcome["running"]

    def stop() -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    urls = {pid: {s: lst.base for s, lst in rt.listeners.items()} for pid, rt in running.runtimes.items()}
    return Sandbox(root.resolve(), chosen, urls, stop, running.concurrency)


def serve(
    provinces: list[str] | tuple[str, ...] | None,
    base_port: int,
    directory: Path,
    announce: Callable[[Sandbox], None],
) -> None:
    """Run the sandbox in the foreground until SIGINT or SIGTERM."""
    chosen = _choose(provinces)

    async def main() -> None:
        running = await _open(chosen, base_port, directory)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        urls = {pid: {s: lst.base for s, lst in rt.listeners.items()} for pid, rt in running.runtimes.items()}
        announce(Sandbox(directory.resolve(), chosen, urls, stopped.set, running.concurrency))
        try:
            await stopped.wait()
        finally:
            await _close(running)

    asyncio.run(main())
