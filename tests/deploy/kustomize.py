"""Just enough kustomize to render deploy/k8s where the kustomize binary is not installed.

Supports what the manifests use and refuses the rest, so a new kustomize feature in deploy/k8s
fails loudly here instead of rendering wrong: `resources` (files and directories), `namespace`,
`images`, `replicas`, and `patches` given as files of strategic-merge patches matched by kind and
name. Strategic merge is approximated: maps merge recursively, a null deletes a key, lists of
objects that all have a `name` merge by name, any other list is replaced. Where `kubectl kustomize`
exists, a test checks that this renderer and the real one agree.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}


class UnsupportedKustomization(ValueError):
    pass


def load_documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def render(directory: Path) -> list[Doc]:
    kustomization: Doc = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: extend tests/deploy/kustomize.py for {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        target = directory / entry
        docs.extend(render(target) if target.is_dir() else load_documents(target))
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: only `patches: - path: FILE` is supported")
        for patch_doc in load_documents(directory / patch["path"]):
            index = _find(docs, patch_doc["kind"], patch_doc["metadata"]["name"])
            docs[index] = strategic_merge(docs[index], patch_doc)
    for replica in kustomization.get("replicas", []):
        matches = [d for d in docs if d["kind"] in SCALABLE and d["metadata"]["name"] == replica["name"]]
        if not matches:
            raise UnsupportedKustomization(f"{directory}: replicas for unknown workload {replica['name']}")
        for doc in matches:
            doc["spec"]["replicas"] = replica["count"]
    for image in kustomization.get("images", []):
        for doc in docs:
            _retag(doc, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = namespace
    return docs


def _find(docs: list[Doc], kind: str, name: str) -> int:
    hits = [i for i, d in enumerate(docs) if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(hits) != 1:
        raise UnsupportedKustomization(f"patch target {kind}/{name} matched {len(hits)} resources")
    return hits[0]


def strategic_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        by_name = {item["name"]: item for item in base}
        merged_list = [strategic_merge(item, _by_name(patch, item["name"])) for item in base]
        merged_list += [copy.deepcopy(item) for item in patch if item["name"] not in by_name]
        return merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _by_name(items: list[Doc], name: str) -> Doc:
    return next((i for i in items if i["name"] == name), {})


def image_name(reference: str) -> str:
    """`registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`."""
    reference = reference.split("@", 1)[0]
    head, _, tail = reference.rpartition(":")
    return head if head and "/" not in tail else reference


def _retag(node: Any, image: Doc) -> None:
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for container in node.get(key) or []:
                if isinstance(container, dict) and image_name(container.get("image", "")) == image["name"]:
                    old: str = container["image"]
                    new = str(image.get("newName", image["name"]))
                    if "digest" in image:
                        new += f"@{image['digest']}"
                    elif "newTag" in image:
                        new += f":{image['newTag']}"
                    else:  # only renamed: the reference keeps its tag or digest
                        new += old[len(image_name(old)) :]
                    container["image"] = new
        for value in node.values():
            _retag(value, image)
    elif isinstance(node, list):
        for value in node:
            _retag(value, image)
