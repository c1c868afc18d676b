"""A stand-in for the Kubeflow Pipelines API server (v2beta1 REST) on 127.0.0.1, for kfp's own client.

The API server is a true external boundary: no cluster runs here. This one
keeps pipelines, versions, experiments, runs and recurring runs in memory and
answers with kfp-server-api's own models. It checks what the real server
checks on the paths the submit command uses: an upload must be a PipelineSpec
(top-level `pipelineInfo` and `root`, else "unknown template format"), parsed
strictly into the pipeline_spec protobuf, its second YAML document into the
PlatformSpec; a run or recurring run must give every pipeline parameter that
is neither optional nor defaulted (backend/src/apiserver/template/
v2_template.go:475-481).
"""

from __future__ import annotations

import dataclasses
import email.parser
import http.server
import itertools
import json
import threading
import urllib.parse
from typing import Any

import yaml

API = "/apis/v2beta1"


@dataclasses.dataclass
class State:
    pipelines: dict[str, Any] = dataclasses.field(default_factory=dict)
    versions: dict[str, Any] = dataclasses.field(default_factory=dict)  # id -> V2beta1PipelineVersion
    specs: dict[str, list[dict]] = dataclasses.field(default_factory=dict)  # version id -> YAML documents
    experiments: dict[str, Any] = dataclasses.field(default_factory=dict)
    runs: dict[str, Any] = dataclasses.field(default_factory=dict)
    recurring_runs: dict[str, Any] = dataclasses.field(default_factory=dict)
    ids: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1))

    def new_id(self, kind: str) -> str:
        return f"{kind}-{next(self.ids)}"


class BadRequestError(Exception):
    pass


def check_package(text: bytes) -> list[dict]:
    """The upload checks: a PipelineSpec and its PlatformSpec, strictly."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    if not documents or "pipelineInfo" not in documents[0] or "root" not in documents[0]:
        raise BadRequestError("Failed to create a pipeline: unknown template format")
    if documents[0].get("schemaVersion") != "2.1.0":
        raise BadRequestError(f"unsupported schemaVersion {documents[0].get('schemaVersion')!r}")
    json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    if len(documents) > 1:
        json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec())
    return documents


def check_parameters(spec: dict, runtime_config: dict | None) -> None:
    given = (runtime_config or {}).get("parameters") or {}
    for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        if name not in given and not definition.get("isOptional") and "defaultValue" not in definition:
            raise BadRequestError(
                f"parameter {name} is not optional, yet has neither default value nor user provided value"
            )


def multipart_file(content_type: str, body: bytes) -> bytes:
    message = email.parser.BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    for part in message.get_payload():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return part.get_payload(decode=True)
    raise BadRequestError("no uploadfile in the request")


class Handler(http.server.BaseHTTPRequestHandler):
    state: State  # set on the class made per server

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, code: int, payload: Any) -> None:
        from kfp_server_api import ApiClient

        body = json.dumps(ApiClient().sanitize_for_serialization(payload)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._answer(200, self.handle_api(method, url.path.removeprefix(API), query, body))
        except BadRequestError as err:
            self._answer(400, {"error_message": str(err), "code": 3})
        except KeyError as err:
            self._answer(404, {"error_message": f"not found: {err}", "code": 5})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def handle_api(self, method: str, path: str, query: dict, body: bytes) -> Any:
        import kfp_server_api as api

        state = self.state
        if (method, path) == ("GET", "/healthz"):  # kfp.Client asks on start
            return api.V2beta1GetHealthzResponse(multi_user=False)
        if (method, path) == ("GET", "/pipelines"):
            wanted = _filter_value(query)
            found = [p for p in state.pipelines.values() if wanted is None or p.display_name == wanted]
            return api.V2beta1ListPipelinesResponse(pipelines=found or None, total_size=len(found))
        if (method, path) == ("POST", "/pipelines/upload"):
            documents = check_package(multipart_file(self.headers["Content-Type"], body))
            pipeline = api.V2beta1Pipeline(pipeline_id=state.new_id("pipeline"), display_name=query["name"])
            state.pipelines[pipeline.pipeline_id] = pipeline
            self._add_version(pipeline.pipeline_id, query["name"], documents)
            return pipeline
        if (method, path) == ("POST", "/pipelines/upload_version"):
            documents = check_package(multipart_file(self.headers["Content-Type"], body))
            return self._add_version(state.pipelines[query["pipelineid"]].pipeline_id, query["name"], documents)
        if (method, path) == ("GET", "/experiments"):
            wanted = _filter_value(query)
            found = [e for e in state.experiments.values() if e.display_name == wanted]
            return api.V2beta1ListExperimentsResponse(experiments=found or None, total_size=len(found))
        if (method, path) == ("POST", "/experiments"):
            request = json.loads(body)
            experiment = api.V2beta1Experiment(
                experiment_id=state.new_id("experiment"),
                display_name=request["display_name"],
                namespace=request.get("namespace"),
            )
            state.experiments[experiment.experiment_id] = experiment
            return experiment
        if (method, path) == ("GET", "/recurringruns"):
            found = [
                r
                for r in state.recurring_runs.values()
                if "experiment_id" not in query or r.experiment_id == query["experiment_id"]
            ]
            return api.V2beta1ListRecurringRunsResponse(recurring_runs=found or None, total_size=len(found))
        if (method, path) == ("POST", "/recurringruns"):
            recurring = self._created(api.V2beta1RecurringRun, body, "recurring_run_id", "recurring-run")
            state.recurring_runs[recurring.recurring_run_id] = recurring
            return recurring
        if method == "DELETE" and path.startswith("/recurringruns/"):
            del state.recurring_runs[path.rsplit("/", 1)[1]]
            return {}
        if (method, path) == ("POST", "/runs"):
            run = self._created(api.V2beta1Run, body, "run_id", "run")
            state.runs[run.run_id] = run
            return run
        raise KeyError(f"{method} {path}")

    def _add_version(self, pipeline_id: str, name: str, documents: list[dict]) -> Any:
        import kfp_server_api as api

        version = api.V2beta1PipelineVersion(
            pipeline_id=pipeline_id, pipeline_version_id=self.state.new_id("version"), display_name=name
        )
        self.state.versions[version.pipeline_version_id] = version
        self.state.specs[version.pipeline_version_id] = documents
        return version

    def _created(self, model: type, body: bytes, id_field: str, kind: str) -> Any:
        from kfp_server_api import ApiClient

        request = json.loads(body)
        version_id = request["pipeline_version_reference"]["pipeline_version_id"]
        check_parameters(self.state.specs[version_id][0], request.get("runtime_config"))
        request[id_field] = self.state.new_id(kind)
        return ApiClient()._ApiClient__deserialize(request, model)


def _filter_value(query: dict) -> str | None:
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"]).get("predicates", [])
    return predicates[0].get("string_value", predicates[0].get("stringValue")) if predicates else None


class StandInServer:
    """`with StandInServer() as server:` serves on `server.host` until the block ends."""

    def __enter__(self) -> StandInServer:
        self.state = State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.host = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
