"""The Kubernetes manifests in deploy/k8s validate against the Kubernetes schemas and say what the issue asks."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.urls import reverse

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"


def resources() -> dict[str, dict]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue  # kustomize's own file, not a cluster resource
        for document in yaml.safe_load_all(path.read_text()):
            found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


@pytest.mark.parametrize("name", sorted(resources()))
def test_manifest_validates_against_the_schema(name):
    kubernetes_validate.validate(resources()[name], KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def container(name: str) -> dict:
    spec = resources()[name]["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    (first,) = template["spec"]["containers"]
    return first


def test_web_runs_three_replicas_with_probes_on_the_health_endpoints():
    web = resources()["Deployment/notification-service-web"]
    assert web["spec"]["replicas"] == 3
    main = container("Deployment/notification-service-web")
    assert main["args"] == ["web"]
    probes = {kind: main[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"startupProbe": "/health/startup", "livenessProbe": "/health/live",
                      "readinessProbe": "/health/ready"}
    assert main["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                 "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_hpa_scales_web_from_3_to_10_on_cpu_and_memory():
    hpa = resources()["HorizontalPodAutoscaler/notification-service-web"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["scaleTargetRef"]["name"] == "notification-service-web"
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}


def test_worker_beat_and_migration_run_the_same_image_by_role():
    for lane in ("urgent", "bulk"):
        assert container(f"Deployment/notification-service-worker-{lane}")["args"] == ["worker"]
    beat = resources()["Deployment/notification-service-beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    assert container("Deployment/notification-service-beat")["args"] == ["beat"]
    assert container("Job/notification-service-migrate")["args"] == ["migrate"]
    images = {container(name)["image"] for name in resources() if name.split("/")[0] in {"Deployment", "Job", "CronJob"}}
    assert images == {"notification-service"}


def test_settings_come_from_the_configmap_and_the_placeholder_secret():
    secret = resources()["Secret/notification-service"]["stringData"]
    assert all("REPLACE-ME" in value for key, value in secret.items() if key not in {"REDIS_URL", "CELERY_BROKER_URL"})
    for name in resources():
        if name.split("/")[0] in {"Deployment", "Job", "CronJob"}:
            sources = container(name)["envFrom"]
            assert {"configMapRef": {"name": "notification-service"}} in sources
            assert {"secretRef": {"name": "notification-service"}} in sources


def test_each_lane_has_its_worker_deployment_and_autoscaler():
    queues = {lane: {e["name"]: e.get("value") for e in container(f"Deployment/notification-service-worker-{lane}")["env"]}
              ["WORKER_QUEUES"] for lane in ("urgent", "bulk")}
    assert queues == {"urgent": "notifications.urgent,notifications.bulk", "bulk": "notifications.bulk"}
    for lane in ("urgent", "bulk"):
        hpa = resources()[f"HorizontalPodAutoscaler/notification-service-worker-{lane}"]["spec"]
        assert hpa["scaleTargetRef"]["name"] == f"notification-service-worker-{lane}"


def test_the_stream_server_runs_by_role_behind_the_ingress_on_the_feeds_stream_path():
    stream = container("Deployment/notification-service-stream")
    assert stream["args"] == ["stream"]
    assert {kind: stream[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")} == {
        "startupProbe": "/health/startup", "livenessProbe": "/health/live", "readinessProbe": "/health/ready"}
    # Each Service selects its own Deployment's pods and names a port those pods have.
    for component in ("web", "stream"):
        pods = resources()[f"Deployment/notification-service-{component}"]["spec"]["template"]
        service = resources()[f"Service/notification-service-{component}"]["spec"]
        assert service["selector"].items() <= pods["metadata"]["labels"].items()
        (port,) = service["ports"]
        assert port["targetPort"] in {p["name"] for p in pods["spec"]["containers"][0]["ports"]}
    (rule,) = resources()["Ingress/notification-service"]["spec"]["rules"]
    routes = {(p["path"], p["pathType"]): p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {(reverse("v1:feed-stream"), "Exact"): "notification-service-stream",
                      ("/", "Prefix"): "notification-service-web"}
    assert rule["host"] in yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]["ALLOWED_HOSTS"].split(",")
