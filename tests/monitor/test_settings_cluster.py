"""The ``cluster:`` section: lease timing and replica id, validated with one clear line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError, ConfigErrors
from monitor.settings import load_config


def write(tmp_path: Path, cluster: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"brands: [{{id: acme, name: ACME}}]\ncluster: {cluster}\n", encoding="utf-8")
    return path


def test_defaults_a_thirty_second_lease_renewed_every_ten() -> None:
    cluster = load_config(Path(__file__).resolve().parents[2] / "config" / "brandpulse.example.yaml").cluster
    assert (cluster.lease, cluster.heartbeat, cluster.heartbeat_seconds, cluster.replica_id) == (30.0, None, 10.0, None)


def test_durations_and_an_explicit_heartbeat(tmp_path: Path) -> None:
    cluster = load_config(write(tmp_path, "{lease: 1m, heartbeat: 15s, replica_id: web-1}")).cluster
    assert (cluster.lease, cluster.heartbeat_seconds, cluster.replica_id) == (60.0, 15.0, "web-1")


@pytest.mark.parametrize(("cluster", "key", "problem"), [
    ("{lease: 500ms}", "cluster", "lease must be at least 1s, got 0.5"),
    ("{lease: 30s, heartbeat: 20s}", "cluster", "heartbeat (20s) must be positive and at most half the lease (30s)"),
    ("{lease: 30s, heartbeat: 0}", "cluster", "heartbeat (0s) must be positive"),
    ("{lease: soon}", "cluster.lease", "expected a duration such as 30s"),
    ("{replica_id: 'web 1'}", "cluster.replica_id", "web 1"),
    ("{leases: 30s}", "cluster.leases", "unknown key"),
])
def test_bad_cluster_settings_are_one_line_each(tmp_path: Path, cluster: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, cluster))
    lines = info.value.lines() if isinstance(info.value, ConfigErrors) else [str(info.value)]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f": {key}: " in lines[0] and problem in lines[0], lines[0]
