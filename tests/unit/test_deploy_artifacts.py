"""The deployment artifacts are valid: Kubernetes manifests against the Kubernetes schemas,
alert rules with promtool (or, without it, parsed), and every metric the alerts and the
dashboard query is one the service exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from creativeflow.services.aigeneration.infrastructure.observability.prometheus_metrics import (
    PrometheusMetrics,
)

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "aigen-dashboard.json"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.name for m in MANIFESTS])
def test_each_manifest_is_valid_kubernetes(manifest: Path) -> None:
    version = kubernetes_validate.utils.latest_version()
    for document in documents(manifest):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_kinds_the_platform_needs_are_all_there() -> None:
    kinds = sorted(doc["kind"] for m in MANIFESTS for doc in documents(m))
    expected = ["ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler", "Job"]
    assert kinds == sorted([*expected, "PodDisruptionBudget", "Service"])


def test_deployments_probe_limit_and_run_unprivileged() -> None:
    for manifest in MANIFESTS:
        for doc in documents(manifest):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                assert container["resources"]["requests"]
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                if container["args"][0] == "serve":
                    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_dockerfile_is_multi_stage_and_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and not user[-1].startswith(("0", "root"))


def test_alert_rules_pass_promtool_or_parse() -> None:
    promtool = shutil.which("promtool")
    if promtool:
        for args in (
            ["check", "rules", str(ALERTS)],
            ["test", "rules", str(ALERTS.with_suffix(".test.yml"))],
        ):
            result = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert len(rules) >= 8
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]


def exported_names() -> set[str]:
    names = set()
    for metric in PrometheusMetrics().registry.collect():
        names.add(metric.name)
        names.update(sample.name for sample in metric.samples)
        if metric.type == "histogram":
            names.update(f"{metric.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
    return names


def queried_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(aigen_[a-z0-9_]+)", expr))


def test_alerts_and_dashboard_query_only_exported_metrics() -> None:
    exported = exported_names()
    exprs = [r["expr"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    unknown = {name for expr in exprs for name in queried_names(expr)} - exported
    assert unknown == set()
    assert len(dashboard["panels"]) >= 8


def test_the_configmap_starts_the_service_in_production_with_real_parts() -> None:
    """Outside development the service refuses embedded parts nobody chose: the shipped
    configuration names each real one (the secrets come from aigen-secrets)."""
    from creativeflow.services.aigeneration.core.config import load_settings

    (config,) = documents(ROOT / "deploy" / "k8s" / "configmap.yaml")
    secrets = {
        "JWT_SECRET": "a-production-secret-of-enough-length-0123456789",
        "N8N_CALLBACK_SECRET": "whsec_cHJvZHVjdGlvbi1jYWxsYmFjay1zZWNyZXQtMDEyMzQ1Njc4OQ==",
        "OUTBOUND_WEBHOOK_SECRET": "whsec_cHJvZHVjdGlvbi13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5MA==",
    }
    settings = load_settings(_env_file=None, **config["data"], **secrets)
    assert settings.environment == "production"
    assert settings.effective_asset_storage == "s3"
    assert settings.effective_database_url.startswith("postgresql")
