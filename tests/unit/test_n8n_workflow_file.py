"""Checks of the shipped n8n workflow that need no n8n (tests/n8n runs it in a real one)."""

import json
import re
from pathlib import Path
from typing import Any

WORKFLOW = Path(__file__).resolve().parents[2] / "n8n" / "creative_generation.workflow.json"


def _workflow() -> dict[str, Any]:
    return dict(json.loads(WORKFLOW.read_text()))


def _node(name: str) -> dict[str, Any]:
    return next(node for node in _workflow()["nodes"] if node["name"] == name)


def test_the_trigger_deletes_a_job_only_when_its_run_succeeded() -> None:
    trigger = _node("Job queue")
    options = trigger["parameters"]["options"]

    assert trigger["type"] == "n8n-nodes-base.rabbitmqTrigger"
    assert trigger["parameters"]["queue"] == "n8n_generation_jobs"
    assert options["acknowledge"] == "executionFinishesSuccessfully"
    assert options["assertQueue"] is False  # the service declares it (quorum, dead-letter)


def test_no_url_or_secret_is_written_into_the_workflow() -> None:
    for node in _workflow()["nodes"]:
        text = json.dumps(node["parameters"])
        assert not re.search(r"https?://", text), node["name"]
        assert not re.search(r"whsec_|sk-[A-Za-z0-9]", text), node["name"]


def test_the_credentials_are_the_three_the_readme_names() -> None:
    used = {
        (kind, ref["name"])
        for node in _workflow()["nodes"]
        for kind, ref in node.get("credentials", {}).items()
    }

    assert used == {
        ("rabbitmq", "CreativeFlow RabbitMQ"),
        ("openAiApi", "CreativeFlow image model"),
        ("crypto", "CreativeFlow callback signing key"),
    }
    readme = (WORKFLOW.parent / "README.md").read_text()
    assert all(name in readme for _, name in used)


def test_every_connection_joins_nodes_that_exist_and_every_node_is_reached() -> None:
    workflow = _workflow()
    names = {
        node["name"]
        for node in workflow["nodes"]
        if node["type"] != "n8n-nodes-base.stickyNote"  # notes for the reader, not steps
    }
    targets = {
        link["node"]
        for outputs in workflow["connections"].values()
        for branch in outputs["main"]
        for link in branch
    }

    assert set(workflow["connections"]) <= names
    assert targets <= names
    assert names - targets == {"Job queue"}


def test_callbacks_are_signed_over_id_timestamp_and_body_and_sent_with_the_headers() -> None:
    sign, send = _node("Sign callback"), _node("Send callback")
    headers = {h["name"]: h["value"] for h in send["parameters"]["headerParameters"]["parameters"]}

    assert sign["parameters"]["action"] == "hmac"
    assert sign["parameters"]["type"] == "SHA256"
    assert sign["parameters"]["encoding"] == "base64"
    assert sign["parameters"]["value"] == (
        "={{ $json.webhook_id }}.{{ $json.timestamp }}.{{ $json.body }}"
    )
    assert headers["webhook-signature"] == "=v1,{{ $json.signature }}"
    assert {"webhook-id", "webhook-timestamp", "x-request-id"} <= set(headers)
    assert send["parameters"]["body"] == "={{ $json.body }}"  # the signed bytes, unchanged


def test_the_model_is_asked_for_the_jobs_render_size_and_images_go_to_the_upload_targets() -> None:
    """A real model refuses other sizes (PROVIDERS.md); the job names the one it takes."""
    read = _node("Read job")["parameters"]["jsCode"]
    assert "job.render_size" in read and "schema_version !== 2" in read
    for name in ("Render samples", "Render from images"):
        parameters = _node(name)["parameters"]
        size = parameters.get("options", {}).get("size") or parameters.get("size")
        assert size.endswith(".render }}"), name
    fit = _node("Fit to size")["parameters"]["operations"]["operations"]
    assert [step["operation"] for step in fit] == ["crop", "resize"]
    assert fit[1]["resizeOption"] == "ignoreAspectRatio"  # exactly width x height
    upload = _node("Upload image")["parameters"]
    assert upload["method"] == "PUT" and "outputs[$itemIndex].upload_url" in upload["url"]
    assert upload["contentType"] == "binaryData"


def test_a_final_is_made_from_the_chosen_sample_first_then_the_inputs() -> None:
    read = _node("Read job")["parameters"]["jsCode"]
    assert "job.selected_sample.url, purpose: 'sample'" in read
    assert "job.input_assets" in read
    edit = _node("Render from images")["parameters"]
    assert edit["operation"] == "edit"
    fields = [v["binaryPropertyName"] for v in edit["images"]["values"]]
    assert len(fields) == 8  # the chosen sample, 4 inputs, 3 logos
    assert "'data'" in fields[0] and "'data_7'" in fields[7]
