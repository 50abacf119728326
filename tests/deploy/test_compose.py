"""config/deploy: the compose stack's structure, checked without a Docker engine (none in CI):
services, health checks and start order, mounts that exist, no secret in a file, and each
mounted file valid for the program that reads it (promtool, Grafana's provisioning shape,
`brandpulse check-config`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DASHBOARD, DEPLOY, ROOT, RULES, tool

COMPOSE = DEPLOY / "compose.yaml"
REQUIRED_ENV = re.compile(r"\$\{([A-Z_]+):\?[^}]+\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the x-brandpulse anchor too
    assert isinstance(data, dict)
    return data


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for vol in service.get("volumes", []):
        source, target, *_ = vol.split(":")
        out.append((source, target))
    return out


def test_services_health_checks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "brandpulse", "prometheus", "grafana"}
    for name in ("postgres", "brandpulse", "prometheus", "grafana"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) >= 2, name
        assert services[name]["restart"] == "unless-stopped", name
    assert "/readyz" in " ".join(services["brandpulse"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["db", "upgrade"] and services["migrate"]["restart"] == "no"
    for name, service in services.items():
        for dep, cond in service.get("depends_on", {}).items():
            assert dep in services, (name, dep)
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], (name, dep)
            else:
                assert cond["condition"] == "service_completed_successfully" and dep == "migrate"
    assert services["brandpulse"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    # the commands are real brandpulse subcommands
    from monitor.cli import build_parser

    for name in ("migrate", "brandpulse"):
        build_parser().parse_args(services[name]["command"])


def test_image_is_built_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    for name in ("migrate", "brandpulse"):
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT and (context / build["dockerfile"]).is_file()


def test_every_bind_mount_exists_and_is_read_only(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for vol in service.get("volumes", []):
            source = vol.split(":")[0]
            if source in named:
                continue
            assert (DEPLOY / source).exists(), (name, source)
            assert vol.endswith(":ro"), (name, vol)


def test_no_secret_is_written_in_the_files(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert set(REQUIRED_ENV.findall(text)) == {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    env = {**compose["services"]["postgres"]["environment"], **compose["services"]["grafana"]["environment"],
           **compose["services"]["brandpulse"]["environment"]}
    for key, value in env.items():
        if "PASSWORD" in key or "DB_URL" in key:
            assert REQUIRED_ENV.search(value), f"{key} must come from .env, not the file"
    example = dict(line.split("=", 1) for line in (DEPLOY / "env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert set(example) == {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    # published ports reach this host only
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_prometheus_config_passes_promtool_with_the_rules(compose: dict[str, Any], tmp_path: Path) -> None:
    mounts = dict(_mounts(compose["services"]["prometheus"]))
    assert mounts["./prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert (DEPLOY / "../dashboards/brandpulse-rules.yml").resolve() == RULES
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == [mounts["../dashboards/brandpulse-rules.yml"]]
    [job] = config["scrape_configs"]
    assert job["job_name"] == "brandpulse"  # the name the rules' up{job="brandpulse"} expects
    assert job["dns_sd_configs"][0]["names"] == ["brandpulse"] and job["dns_sd_configs"][0]["port"] == 9108
    local = dict(config, rule_files=[str(RULES)])  # the container path, mapped back to the repository
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(local), encoding="utf-8")
    out = subprocess.run([tool("promtool"), "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(_mounts(grafana))
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    [ds] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"] is True
    [provider] = yaml.safe_load((provisioning / "dashboards" / "brandpulse.yml").read_text())["providers"]
    assert provider["type"] == "file"
    dashboards_in_container = mounts["../dashboards"]
    assert provider["options"]["path"] == dashboards_in_container
    assert (DEPLOY / "../dashboards").resolve() == DASHBOARD.parent
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_in_container}/{DASHBOARD.name}"
    json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_the_daemon_config_of_the_stack_checks(compose: dict[str, Any], tmp_path: Path) -> None:
    """`brandpulse check-config` on the mounted config, with the image's /app/config mapped to ours."""
    service = compose["services"]["brandpulse"]
    mounts = dict(_mounts(service))
    assert mounts["./brandpulse.yaml"] == service["environment"]["BRANDPULSE_CONFIG"]
    text = (DEPLOY / "brandpulse.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    assert cfg["storage"] == {"url_env": "BRANDPULSE_DB_URL", **({"retention": cfg["storage"]["retention"]})}
    assert "BRANDPULSE_DB_URL" in service["environment"]
    assert service["environment"]["BRANDPULSE_DB_URL"].startswith("postgresql+psycopg://")
    assert cfg["http"]["listen"] == "0.0.0.0:9108" and "9108:9108" in service["ports"][0]
    local = tmp_path / "brandpulse.yaml"
    local.write_text(text.replace("/app/config", str(ROOT / "config")), encoding="utf-8")
    env = {**os.environ, "PYTHONUTF8": "1", "BRANDPULSE_DB_URL": "postgresql+psycopg://brandpulse:pw@postgres/bp"}
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "check-config", str(local)], capture_output=True,
                         text=True, timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "3 brands, 3 sources" in out.stdout


def test_the_daemon_runs_non_root_on_a_read_only_root_filesystem(compose: dict[str, Any]) -> None:
    """Issue 7: non-root, read-only root filesystem apart from the data volume (and a tmpfs /tmp
    for the jieba and matplotlib caches, which the Dockerfile points there)."""
    for name in ("brandpulse", "migrate"):
        svc = compose["services"][name]
        assert svc.get("read_only") is True, name
        assert "/tmp" in svc.get("tmpfs", []), name
        assert "no-new-privileges:true" in svc.get("security_opt", []) and svc.get("cap_drop") == ["ALL"], name
        assert "user" not in svc or svc["user"] not in ("0", "root"), name
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    final = dockerfile.rsplit("\nFROM ", 1)[1]  # the runtime stage only
    assert re.search(r"^USER brandpulse$", final, re.M) and "--uid 10001" in final
    assert "MPLCONFIGDIR=/tmp/" in final  # matplotlib would otherwise write under $HOME
    for compiler in ("gcc", "build-essential", "g++", "python3-dev"):
        assert compiler not in final, f"{compiler} in the runtime image"
