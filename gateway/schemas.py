"""The HTTP API's request and response types, declared once. The routes parse requests into
these and answer with them; ``gateway.openapi`` derives the OpenAPI document from them; the web
UI's TypeScript types are generated from that document. Constraints (lengths, patterns, ranges)
are the contract's limits, so what the document promises and what the server accepts agree.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from services.common import contract as c

# -- constrained values ---------------------------------------------------------------------------
_TEXT = r"[^\x00-\x1f\x7f]"  # any character but a control character
_SOLID = r"[^\x00-\x20\x7f]"  # … nor a space: a name needs one of these
NAME_PATTERN = f"^{_TEXT}*{_SOLID}{_TEXT}*$"
_PART = r"[^\x00-\x1f\x7f/]*[^\x00-\x20\x7f/][^\x00-\x1f\x7f/]*"
PROJECT_PATTERN = f"^{_PART}(/{_PART})*$"
ONE_LINE_PATTERN = f"^{_TEXT}*$"

Name = Annotated[str, Meta(min_length=1, max_length=c.MAX_NAME, pattern=NAME_PATTERN)]
Tag = Annotated[str, Meta(min_length=1, max_length=c.MAX_TAG, pattern=NAME_PATTERN)]
Tags = Annotated[list[Tag], Meta(max_length=c.MAX_TAGS)]
ProjectPath = Annotated[
    str, Meta(min_length=1, max_length=c.MAX_NAME, pattern=PROJECT_PATTERN, description="nested: a/b/c")
]
ExperimentDescription = Annotated[str, Meta(max_length=c.MAX_EXPERIMENT_DESCRIPTION, pattern=ONE_LINE_PATTERN)]
ProjectDescription = Annotated[str, Meta(max_length=c.MAX_PROJECT_DESCRIPTION, pattern=ONE_LINE_PATTERN)]
KeyName = Annotated[str, Meta(min_length=1, max_length=c.MAX_KEY_NAME, pattern=NAME_PATTERN)]
UserName = Annotated[str, Meta(pattern=c.USER_NAME.pattern, description="a login or an e-mail address")]
WorkspaceId = Annotated[str, Meta(pattern=c.WORKSPACE_ID.pattern, description="3-40 of [a-z0-9-]")]
ExperimentId = Annotated[str, Meta(pattern=c.EXPERIMENT_ID.pattern)]
Role = Literal["admin", "member", "viewer"]
Page = Annotated[int, Meta(ge=0, le=1_000_000, description="page number, from 0")]
PageSize = Annotated[int, Meta(ge=1, le=500, description="rows per page")]
QueryText = Annotated[str, Meta(max_length=4096)]
Iteration = Annotated[int, Meta(ge=0, le=c.MAX_ITERATION)]
# A measured value: JSON has no NaN or infinities, so those travel as these strings.
Real = Annotated[float | str, Meta(description='a number; NaN and ±∞ as the strings "NaN", "Infinity", "-Infinity"')]
TimeS = Annotated[float, Meta(description="seconds since the Unix epoch")]


class Body(Struct, forbid_unknown_fields=True):
    """A request body: unknown fields are refused, naming the field. ``schema_extra`` adds the
    rules a field list cannot say (at least one of …), which the server enforces as well."""

    schema_extra: ClassVar[dict[str, Any]] = {}
    examples: ClassVar[list[dict[str, Any]]] = []


def _either(*alternatives: tuple[str, str]) -> dict[str, Any]:
    """At least one of these (name, array|object) fields non-empty."""
    return {
        "anyOf": [
            {"required": [n], "properties": {n: {"minItems" if k == "array" else "minProperties": 1}}}
            for n, k in alternatives
        ]
    }


class Query(Struct):
    """A query string: parameters not declared are ignored."""


class Empty(Query):
    """No parameters."""


# -- errors and accepted commands -------------------------------------------------------------------
class ErrorDetail(Struct):
    code: str
    message: str
    field: str | None


class Error(Struct):
    """Every error: a 4xx/5xx status and this body."""

    error: ErrorDetail


class Accepted(Struct):
    """202: the command is on the log; its projection had not applied it within the wait."""

    status: Literal["accepted"]
    event_id: str


# -- health -----------------------------------------------------------------------------------------
class Health(Struct):
    status: str


class Readiness(Struct):
    status: Literal["ready", "not ready"]
    services: list[bool]


# -- projects ---------------------------------------------------------------------------------------
class ProjectQuery(Query):
    search: Annotated[str, Meta(max_length=255, description="case-insensitive substring of path or description")] = ""
    order_by: Literal[
        "name", "-name", "last_update", "-last_update", "experiments", "-experiments", "created", "-created"
    ] = "name"
    page: Page = 0
    page_size: PageSize = 50
    workspace: str = ""


class Project(Struct):
    path: str
    name: str
    parent: str | None
    description: str
    public: bool
    experiments: int
    archived_experiments: int
    created_at: float
    last_update: float


class ProjectPage(Struct):
    projects: list[Project]
    total: int
    page: int
    page_size: int


class ProjectEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"description": "ResNet sweeps on ImageNet", "public": False}]
    schema_extra: ClassVar[dict[str, Any]] = {"minProperties": 1}
    public: bool | UnsetType = UNSET
    description: ProjectDescription | UnsetType = UNSET


# -- saved views ----------------------------------------------------------------------------------
ViewName = Annotated[str, Meta(min_length=1, max_length=c.MAX_VIEW_NAME, pattern=NAME_PATTERN)]


class ViewsQuery(Query):
    project: ProjectPath
    workspace: str = ""


class SavedView(Struct):
    name: str
    state: str
    user: str
    updated_at: TimeS
    default: bool


class SavedViews(Struct):
    project: str
    views: list[SavedView]
    default_view: str | None


class ViewSave(Body):
    examples: ClassVar[list[dict[str, Any]]] = [
        {"project": "vision/resnet", "name": "best by val loss", "state": "order=metrics.loss/val.min", "default": True}
    ]
    project: ProjectPath
    name: ViewName
    state: Annotated[str, Meta(max_length=c.MAX_VIEW_STATE, description="the web UI's URL query of the view")]
    default: bool = False


class ViewRef(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"project": "vision/resnet", "name": "best by val loss"}]
    project: ProjectPath
    name: Annotated[str, Meta(max_length=c.MAX_VIEW_NAME, description="empty with /default: no default view")]


# -- experiments ------------------------------------------------------------------------------------
class MetricSummary(Struct):
    metric: str
    variant: str
    last: Real | None
    min: Real | None
    max: Real | None
    last_iteration: int


class Experiment(Struct):
    id: str
    project: str
    name: str
    tags: list[str]
    user: str
    status: Literal["unspecified", "running", "completed", "failed", "stopped"]
    status_reason: str
    description: str
    archived: bool
    published: bool
    deleted: bool
    stop_requested: bool
    last_seen: float | None
    created_at: float
    started_at: float
    updated_at: float
    ended_at: float | None
    metrics: list[MetricSummary]
    columns: dict[str, Any] | UnsetType = UNSET


class ExperimentQuery(Query):
    project: str = ""
    archived: bool = False
    deleted: bool = False
    filter: Annotated[QueryText, Meta(description="MLflow search syntax, with OR and parentheses")] = ""
    order_by: Annotated[QueryText, Meta(description="identifiers, '-' prefix or ASC/DESC, comma-separated")] = ""
    columns: Annotated[QueryText, Meta(description="identifiers whose values each row carries")] = ""
    group_by: Annotated[QueryText, Meta(description="one identifier: counts per value in `groups`")] = ""
    page: Page = 0
    page_size: PageSize = 50
    workspace: str = ""


class ColumnQuery(Query):
    project: Annotated[str, Meta(max_length=1024, description="exact project path; every project when empty")] = ""
    workspace: str = ""


class Columns(Struct):
    """What the experiment table can show, sort and filter by, as identifiers of its language."""

    identifiers: list[str]
    truncated: bool


class Group(Struct):
    value: Any
    count: int


class ExperimentPage(Struct):
    experiments: list[Experiment]
    total: int
    page: int
    page_size: int
    groups: list[Group] | UnsetType = UNSET


XAxis = Literal["iter", "relative", "wall"]


class ScalarQuery(Query):
    """``x_min``/``x_max`` zoom (at full resolution where the range holds few points); a range
    given backwards is the same range."""

    metric: str | None = None
    variant: str | None = None
    samples: Annotated[int, Meta(ge=1, le=20_000, description="buckets per series")] = 2000
    xaxis: XAxis = "iter"
    x_min: float | None = None
    x_max: float | None = None


class Series(Struct):
    metric: str
    variant: str
    total_points: int
    downsampled: bool
    x: list[float]
    min: list[Real]
    max: list[Real]
    mean: list[Real]
    last: list[Real]
    count: list[int]


class Scalars(Struct):
    experiment_id: str
    xaxis: XAxis
    samples: int
    series: list[Series]


MAX_CHARTS = 50  # charts per call of /scalars/charts (the metrics service's limit too)


class ChartSpec(Struct, forbid_unknown_fields=True):
    metric: Name
    variant: Annotated[Name | None, Meta(description="one variant; none: every variant of the metric")] = None


class ChartsQuery(Body):
    """``x_min``/``x_max`` zoom every chart (a range given backwards is the same range)."""

    examples: ClassVar[list[dict[str, Any]]] = [
        {"charts": [{"metric": "loss"}, {"metric": "accuracy", "variant": "val"}], "samples": 600}
    ]
    charts: Annotated[list[ChartSpec], Meta(min_length=1, max_length=MAX_CHARTS)]
    samples: Annotated[int, Meta(ge=1, le=20_000, description="buckets per series")] = 2000
    xaxis: XAxis = "iter"
    x_min: float | None = None
    x_max: float | None = None


class ChartSeries(Struct, omit_defaults=True):
    """A chart as asked (``variant`` only when one was named) and its series."""

    metric: str
    series: list[Series]
    variant: str | None = None


class Charts(Struct):
    experiment_id: str
    xaxis: XAxis
    samples: int
    charts: list[ChartSeries]


class ExperimentEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"name": "baseline v2", "description": "lr 0.1, 30 epochs"}]
    schema_extra: ClassVar[dict[str, Any]] = {"minProperties": 1}
    name: Name | UnsetType = UNSET
    description: ExperimentDescription | UnsetType = UNSET


class TagEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"add": ["best"], "remove": ["draft"]}]
    """A tag in both lists ends removed."""

    schema_extra: ClassVar[dict[str, Any]] = _either(("add", "array"), ("remove", "array"))
    add: Tags = []
    remove: Tags = []


class Move(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"project": "vision/resnet"}]
    project: ProjectPath


class Cleared(Struct):
    id: str
    cleared: bool


class StopRequest(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"reason": "diverged"}]
    reason: Annotated[str, Meta(max_length=c.MAX_STOP_REASON)] = "stopped from the web"


# -- details ----------------------------------------------------------------------------------------
class Param(Struct):
    name: str
    value: str
    type: str
    description: str


class Section(Struct):
    section: str
    params: list[Param]


class ConfigurationObject(Struct):
    name: str
    content_type: str
    description: str
    text: str


class Configuration(Struct):
    experiment_id: str
    hyperparameters: list[Section]
    configurations: list[ConfigurationObject]
    properties: dict[str, str]


class Execution(Struct):
    experiment_id: str
    repository: str
    branch: str
    commit: str
    diff: str
    entry_point: str
    working_dir: str
    argv: str
    python: str
    packages: list[str]
    environment: dict[str, str]
    runtime: dict[str, str]


class Artifact(Struct):
    name: str
    type: str
    key: str
    size: int
    sha256: str
    content_type: str
    metadata: dict[str, str]
    registered_at: float
    url: str
    url_expires_at: float
    preview: str
    preview_url: str
    framework: str | UnsetType = UNSET
    input: bool | UnsetType = UNSET
    direction: Literal["input", "output"] | UnsetType = UNSET


class Artifacts(Struct):
    experiment_id: str
    artifacts: list[Artifact]


class Models(Struct):
    experiment_id: str
    models: list[Artifact]


class PreviewQuery(Query):
    max_bytes: Annotated[int, Meta(ge=1, le=1024 * 1024)] = 64 * 1024


class Preview(Struct):
    name: str
    key: str
    text: str
    truncated: bool


class ConsoleQuery(Query):
    after: Annotated[int, Meta(ge=0, le=c.MAX_ITERATION, description="the cursor of the last line seen")] = 0
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 1000
    tail: Annotated[int, Meta(ge=0, le=10_000, description="the last N lines instead")] = 0
    search: Annotated[str, Meta(max_length=1000, description="lines containing this (case-insensitive)")] = ""
    format: Literal["json", "text"] = "json"


class ConsoleLine(Struct):
    cursor: int
    ts: float
    level: str
    source: str
    text: str


class Console(Struct):
    experiment_id: str
    lines: list[ConsoleLine]
    total: int
    more: bool
    next_after: int


class ByIterationQuery(Query):
    metric: str = ""
    variant: str = ""
    iteration: Iteration | None = None


class PlotsQuery(ByIterationQuery):
    history: Annotated[
        int, Meta(ge=0, le=500, description="> 0: each series' newest N iterations, oldest first (histograms in time)")
    ] = 0


class Plot(Struct):
    metric: str
    variant: str
    iteration: int
    kind: str
    figure: dict[str, Any]
    ts: float
    iterations: int
    stored_iterations: list[int] = []  # the newest 1,000 iterations that have this plot, ascending


class Plots(Struct):
    experiment_id: str
    plots: list[Plot]


class Sample(Struct):
    metric: str
    variant: str
    iteration: int
    kind: str
    key: str
    size: int
    sha256: str
    content_type: str
    ts: float
    url: str
    previous_iteration: int | None
    next_iteration: int | None
    iterations: int
    stored_iterations: list[int] = []  # which iterations still have their file, ascending


class Samples(Struct):
    experiment_id: str
    samples: list[Sample]


ParamValue = str | int | float
ParamName = Annotated[str, Meta(min_length=1, max_length=c.MAX_NAME, pattern=NAME_PATTERN)]


class HyperparameterEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"section": "General", "set": {"lr": 0.01}, "remove": ["momentum"]}]
    schema_extra: ClassVar[dict[str, Any]] = _either(("set", "object"), ("remove", "array"))
    section: Name = "General"
    # half the event's limit each, so that together they stay within it
    set: Annotated[dict[ParamName, ParamValue], Meta(max_length=c.MAX_PARAMS_PER_EVENT // 2)] = {}
    remove: Annotated[list[ParamName], Meta(max_length=c.MAX_PARAMS_PER_EVENT // 2)] = []


class PropertyEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"set": {"team": "cv"}, "remove": ["old"]}]
    schema_extra: ClassVar[dict[str, Any]] = _either(("set", "object"), ("remove", "array"))
    set: Annotated[dict[ParamName, ParamValue], Meta(max_length=c.MAX_PROPERTIES_PER_EVENT // 2)] = {}
    remove: Annotated[list[ParamName], Meta(max_length=c.MAX_PROPERTIES_PER_EVENT // 2)] = []


# -- bulk -------------------------------------------------------------------------------------------
BulkIds = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(min_length=1, max_length=500)]


class BulkArchive(Body, tag_field="action", tag="archive"):
    ids: BulkIds


class BulkRestore(Body, tag_field="action", tag="restore"):
    ids: BulkIds


class BulkDelete(Body, tag_field="action", tag="delete"):
    ids: BulkIds


class BulkPublish(Body, tag_field="action", tag="publish"):
    ids: BulkIds


class BulkTags(Body, tag_field="action", tag="tags"):
    """A tag in both lists ends removed."""

    schema_extra: ClassVar[dict[str, Any]] = _either(("add", "array"), ("remove", "array"))
    ids: BulkIds
    add: Tags = []
    remove: Tags = []


class BulkMove(Body, tag_field="action", tag="move"):
    ids: BulkIds
    project: ProjectPath


class BulkStop(Body, tag_field="action", tag="stop"):
    ids: BulkIds
    reason: Annotated[str, Meta(max_length=c.MAX_STOP_REASON)] = "stopped from the web"


BulkCommand = BulkArchive | BulkRestore | BulkDelete | BulkPublish | BulkTags | BulkMove | BulkStop


class BulkResult(Struct):
    id: str
    status: Literal[200, 404, 409]
    event_id: str | UnsetType = UNSET
    error: str | UnsetType = UNSET


class BulkOutcome(Struct):
    action: str
    applied: bool
    results: list[BulkResult]


# -- compare ----------------------------------------------------------------------------------------
class CompareQuery(Query):
    """``metric`` overlays that metric's series (``variant`` defaults to the metric's name)."""

    ids: Annotated[
        str, Meta(pattern=r"^[0-9a-f]{32}(,[0-9a-f]{32}){1,9}$", description="2 to 10 experiment ids, comma-separated")
    ]
    metric: str | None = None
    variant: str | None = None
    samples: Annotated[int, Meta(ge=1, le=20_000)] = 1000
    xaxis: XAxis = "iter"
    workspace: str = ""


class SummaryValues(Struct):
    last: Real | None
    min: Real | None
    max: Real | None
    last_iteration: int


class ComparedMetric(Struct):
    metric: str
    variant: str
    values: dict[str, SummaryValues]


class ComparedSeries(Struct):
    experiment_id: str
    name: str
    total_points: int
    x: list[float]
    min: list[Real]
    max: list[Real]
    mean: list[Real]
    last: list[Real]


class Comparison(Struct):
    experiments: list[Experiment]
    metrics: list[ComparedMetric]
    scalars: list[ComparedSeries] | UnsetType = UNSET


# -- export -----------------------------------------------------------------------------------------
class ExportQuery(Query):
    project: str = ""
    filter: QueryText = ""
    order_by: QueryText = ""
    shape: Literal["long", "wide"] = "long"
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    workspace: str = ""


# -- keys, workspaces, members ----------------------------------------------------------------------
class ApiKey(Struct):
    id: str
    name: str
    user: str | None
    role: str
    created_at: float
    rotated_at: float | None
    revoked: bool


class ApiKeys(Struct):
    keys: list[ApiKey]


class KeyRequest(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"name": "ci", "role": "viewer"}]
    name: KeyName = "key"
    role: Role | None = None
    user: UserName | None = None


class NewKey(Struct):
    id: str
    key: str
    name: str
    role: str
    user: str | None


class AcceptedKey(Struct):
    status: Literal["accepted"]
    event_id: str
    id: str
    key: str
    name: str | UnsetType = UNSET
    role: str | UnsetType = UNSET
    user: str | UnsetType | None = UNSET


class RotatedKey(Struct):
    id: str
    key: str


class Revoked(Struct):
    id: str
    revoked: bool


class Workspace(Struct):
    id: str
    name: str
    role: str
    user: str | None
    embed_origins: list[str] | None


class Workspaces(Struct):
    workspaces: list[Workspace]


class WorkspaceRequest(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"id": "team-a", "name": "Team A", "owner": "alice"}]
    id: WorkspaceId
    name: KeyName | None = None
    owner: UserName | None = None


class SecretKey(Struct):
    id: str
    key: str


class NewWorkspace(Struct):
    id: str
    name: str
    owner: str
    admin_key: SecretKey


class AcceptedWorkspace(Struct):
    status: Literal["accepted"]
    event_id: str
    id: str
    name: str
    owner: str
    admin_key: SecretKey


Origin = Annotated[
    str,
    Meta(pattern=r"^(\*|https?://(\*\.)?[A-Za-z0-9.-]{1,253}(:\d{1,5})?)$", description="'*' or scheme://host[:port]"),
]


class WorkspaceEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"name": "Team A", "embed_origins": ["https://grafana.example.com"]}]
    schema_extra: ClassVar[dict[str, Any]] = {"minProperties": 1}
    name: KeyName | UnsetType = UNSET
    embed_origins: Annotated[list[Origin], Meta(max_length=50)] | UnsetType | None = UNSET


class Member(Struct):
    user: str
    role: str
    added_at: float
    updated_at: float


class Members(Struct):
    members: list[Member]


class MemberRole(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"role": "viewer"}]
    role: Role


class RemovedMember(Struct):
    user: str
    removed: bool


# -- embeds -----------------------------------------------------------------------------------------
class EmbedRequest(Body):
    examples: ClassVar[list[dict[str, Any]]] = [
        {"widget": "/widget/?type=scalar&project=vision", "name": "dashboard", "expires_in": 86400}
    ]
    """A grant for the widget of ``widget`` (its URL or query string), or for ``objects`` (ids):
    exactly one of the two."""

    schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["widget"], "properties": {"widget": {"type": "string"}}},
            {"required": ["objects"], "properties": {"objects": {"type": "array"}}},
        ]
    }
    widget: Annotated[str, Meta(max_length=8192, description="a /widget/ URL or its query string")] | None = None
    objects: Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(min_length=1, max_length=50)] | None = None
    objectType: Literal["task", "model"] = "task"  # noqa: N815 (ClearML's parameter name)
    name: Annotated[str, Meta(max_length=128)] = ""
    expires_in: Annotated[float, Meta(ge=60, le=365 * 86_400, description="seconds")] = 30 * 86_400


class NewEmbed(Struct):
    id: str
    token: str
    name: str
    scope: dict[str, Any]
    expires_at: float


class Embed(Struct):
    id: str
    name: str
    scope: dict[str, Any]
    expires_at: float
    expired: bool
    revoked: bool
    created_at: float
    created_by: str


class Embeds(Struct):
    embeds: list[Embed]


class EmbedCode(Struct):
    code: str
    url: str
    public: bool
    grant: str | None
    expires_at: float | None


# -- browser sessions -------------------------------------------------------------------------------
class SignIn(Body):
    """An API key, or a one-time sign-in link's token (``make up`` prints such a link)."""

    schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["key"], "properties": {"key": {"type": "string"}}},
            {"required": ["link"], "properties": {"link": {"type": "string"}}},
        ]
    }
    examples: ClassVar[list[dict[str, Any]]] = [{"key": "tl_…"}]
    key: Annotated[str, Meta(min_length=1, max_length=256, description="an API key")] | None = None
    link: Annotated[str, Meta(min_length=1, max_length=512, description="a sign-in link's token")] | None = None


class SignInLink(Struct):
    """A one-time link that signs a browser in as the calling key, valid for minutes."""

    url: str
    expires_at: float


class SessionInfo(Struct):
    """Who the session (or the key) is, and the token its writes carry in ``X-CSRF-Token``."""

    workspace: str
    role: str
    user: str | None
    key_id: str
    csrf_token: str | None
    expires_at: float | None


class SignedOut(Struct):
    signed_out: bool


# -- reports and notes ------------------------------------------------------------------------------
ReportDescription = Annotated[str, Meta(max_length=c.MAX_REPORT_DESCRIPTION)]
ReportBody = Annotated[str, Meta(max_length=c.MAX_REPORT_BODY, description="markdown")]
Version = Annotated[int, Meta(ge=0, description="the version the change was made on (409 when stale)")]


class ReportQuery(Query):
    project: Annotated[str, Meta(max_length=1024, description="this project and those under it")] = ""
    search: Annotated[str, Meta(max_length=255, description="case-insensitive, in the name and the description")] = ""
    tags: Annotated[str, Meta(max_length=4096, description="comma-separated: reports with every one")] = ""
    status: Literal["", "draft", "published"] = ""
    archived: bool = False
    order_by: Literal["updated_at", "-updated_at", "created_at", "-created_at", "name", "-name"] = "-updated_at"
    page: Page = 0
    page_size: PageSize = 50


class ReportShare(Struct):
    id: str
    created_at: TimeS
    expires_at: TimeS | None
    revoked: bool


class Report(Struct):
    id: str
    name: str
    project: str
    description: str
    tags: list[str]
    status: Literal["draft", "published"]
    archived: bool
    user: str
    created_at: TimeS
    updated_at: TimeS
    version: int
    body: str | UnsetType = UNSET  # one report only
    shares: list[ReportShare] | UnsetType = UNSET  # one report, for its writers


class ReportPage(Struct):
    reports: list[Report]
    total: int
    page: int
    page_size: int
    projects: list[str]  # every project holding a report of this kind (active, or archived)


class ReportCreate(Body):
    examples: ClassVar[list[dict[str, Any]]] = [
        {"name": "ResNet vs ViT", "project": "vision", "description": "which backbone, and why", "tags": ["cv"]}
    ]
    name: Name
    project: ProjectPath
    description: ReportDescription = ""
    tags: Tags = []
    body: ReportBody = ""


class ReportEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"version": 41, "body": "# Findings\n\nThe ViT wins."}]
    schema_extra: ClassVar[dict[str, Any]] = {"minProperties": 2}
    version: Version
    name: Name | UnsetType = UNSET
    description: ReportDescription | UnsetType = UNSET
    body: ReportBody | UnsetType = UNSET
    project: ProjectPath | UnsetType = UNSET
    add_tags: Tags | UnsetType = UNSET
    remove_tags: Tags | UnsetType = UNSET


class ReportCommand(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"version": 41}]
    version: Version | UnsetType = UNSET


class ShareCreate(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"expires_in_days": 30}]
    expires_in_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class ShareRef(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"id": "0f3a9c1d2e4b5a69"}]
    id: Annotated[str, Meta(pattern=c.SHARE_ID.pattern)]


class SharedLink(Struct):
    id: str
    token: str
    url: str  # the page that opens the report without an account
    expires_at: TimeS | None


class ReportExportQuery(Query):
    format: Literal["md", "html", "pdf"] = "md"


class ImageStored(Struct):
    url: str
    size: int
    content_type: str


class Note(Struct):
    text: str
    version: int
    user: str
    updated_at: TimeS | None


class NoteQuery(Query):
    project: ProjectPath


class NoteEdit(Body):
    examples: ClassVar[list[dict[str, Any]]] = [{"version": 0, "text": "Diverged at step 40: lower the lr."}]
    version: Version
    text: Annotated[str, Meta(max_length=c.MAX_NOTE, description="markdown")]


class ProjectNoteEdit(NoteEdit):
    examples: ClassVar[list[dict[str, Any]]] = [{"project": "vision", "version": 0, "text": "Baseline; see the sweep."}]
    project: ProjectPath
