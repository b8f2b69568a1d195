"""Reports and notes over HTTP on the real stack: every route and rule — create, list (project,
search, tags, status, Archive, sort, pages), edit with its version (409 when stale, naming the
newer one, and nothing changed), publish (locked: 409), archive, restore, delete (only from the
Archive), share links (read without a key, their widgets exactly, revoked at once), Markdown
export; the notes of a project and of an experiment; bad input and other workspaces."""

from __future__ import annotations

import secrets
import struct
import zlib
from urllib.parse import quote

import httpx
import pytest

from devstack import Stack
from tests.conftest import new_id
from tests.e2e.helpers import gateway, open_experiment, wait_for

pytestmark = pytest.mark.engines


def create(gw: httpx.Client, **fields: object) -> dict:
    r = gw.post("/api/v1/reports", json={"name": "Findings", "project": "reports-e2e", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_report_is_written_edited_with_its_version_and_published(stack: Stack) -> None:
    with gateway(stack) as gw:
        r = create(gw, description="ResNet against ViT", tags=["cv"], body="# Draft")
        assert (r["name"], r["status"], r["archived"], r["body"], r["tags"]) == (
            "Findings",
            "draft",
            False,
            "# Draft",
            ["cv"],
        )
        assert r["version"] > 0 and r["shares"] == []
        url = f"/api/v1/reports/{r['id']}"

        edited = gw.patch(url, json={"version": r["version"], "body": "# Findings\n\nViT wins.", "add_tags": ["vit"]})
        assert edited.status_code == 200, edited.text
        e = edited.json()
        assert (e["body"], e["tags"], e["name"]) == ("# Findings\n\nViT wins.", ["cv", "vit"], "Findings")
        assert e["version"] > r["version"] and e["updated_at"] >= r["updated_at"]

        # an edit made on the old version: refused, naming the newer one; nothing changed
        stale = gw.patch(url, json={"version": r["version"], "body": "lost?"})
        assert stale.status_code == 409, stale.text
        assert stale.json()["error"]["field"] == "version" and str(e["version"]) in stale.json()["error"]["message"]
        assert gw.get(url).json()["body"] == "# Findings\n\nViT wins."

        moved = gw.patch(url, json={"version": e["version"], "project": "reports-e2e/new/deep", "name": "ViT wins"})
        assert (moved.json()["project"], moved.json()["name"]) == ("reports-e2e/new/deep", "ViT wins")

        published = gw.post(f"{url}/publish")
        assert published.status_code == 200 and published.json()["status"] == "published"
        locked = gw.patch(url, json={"version": published.json()["version"], "name": "again"})
        assert locked.status_code == 409 and "published" in locked.json()["error"]["message"]
        assert gw.post(f"{url}/publish").json()["version"] == published.json()["version"]  # publishing again: no-op

        md = gw.get(f"{url}/export", params={"format": "md"})
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert (
            md.text.endswith("# Findings\n\nViT wins.")
            and 'filename="ViT wins.md"' in md.headers["content-disposition"]
        )


def test_the_archive_restore_and_delete(stack: Stack) -> None:
    with gateway(stack) as gw:
        r = create(gw, name="Old")
        url = f"/api/v1/reports/{r['id']}"
        refused = gw.post(f"{url}/delete")
        assert refused.status_code == 409 and "archive it first" in refused.json()["error"]["message"]
        assert gw.post(f"{url}/archive").json()["archived"] is True
        in_archive = gw.get("/api/v1/reports", params={"archived": "true", "project": "reports-e2e"}).json()
        assert r["id"] in [x["id"] for x in in_archive["reports"]]
        assert r["id"] not in [x["id"] for x in gw.get("/api/v1/reports").json()["reports"]]
        assert gw.post(f"{url}/restore").json()["archived"] is False
        gw.post(f"{url}/archive")
        assert gw.post(f"{url}/delete").status_code == 204
        assert gw.get(url).status_code == 404
        assert gw.post(f"{url}/restore").status_code == 404


def test_listing_filters_searches_sorts_and_pages(stack: Stack) -> None:
    project = "listing-" + secrets.token_hex(3)
    with gateway(stack) as gw:
        a = create(gw, name="Loss curves", project=project, description="ResNet", tags=["cv"])
        b = create(gw, name="Ablations", project=f"{project}/sub", description="what the LOSS does", tags=["cv", "abl"])
        create(gw, name="Tokenizers", project=f"{project}-other", description="BPE")
        gw.post(f"/api/v1/reports/{b['id']}/publish")

        def names(**params: str) -> list[str]:
            page = gw.get("/api/v1/reports", params={"project": project, **params})
            assert page.status_code == 200, page.text
            return [x["name"] for x in page.json()["reports"]]

        assert names() == ["Ablations", "Loss curves"]  # the project and its sub-projects, newest first
        assert names(search="loss") == ["Ablations", "Loss curves"]
        assert names(tags="cv,abl") == ["Ablations"]
        assert names(status="draft") == ["Loss curves"]
        assert names(order_by="name") == ["Ablations", "Loss curves"]
        page = gw.get("/api/v1/reports", params={"project": project, "page_size": 1, "page": 1}).json()
        assert ([x["id"] for x in page["reports"]], page["total"]) == ([a["id"]], 2)
        assert {project, f"{project}/sub", f"{project}-other"} <= set(page["projects"])
        assert "body" not in page["reports"][0]


def test_bad_input_and_other_workspaces_change_nothing(stack: Stack, other_workspace: dict[str, str]) -> None:
    with gateway(stack) as gw:
        r = create(gw)
        url = f"/api/v1/reports/{r['id']}"
        for body, field in (
            ({"name": "", "project": "p"}, "name"),
            ({"name": "x" * 256, "project": "p"}, "name"),
            ({"name": "ok", "project": "a//b"}, "project"),
            ({"name": "ok", "project": "p", "owner": "me"}, "owner"),
            ({"name": "ok", "project": "p", "body": "x" * 200_001}, "body"),
        ):
            bad = gw.post("/api/v1/reports", json=body)
            assert bad.status_code == 400 and field in bad.json()["error"]["message"], (body, bad.text)
        same = gw.patch(url, json={"version": r["version"], "remove_tags": []})  # nothing to change: as it is
        assert same.status_code == 200 and same.json()["version"] == r["version"]
        assert gw.patch(url, json={"version": r["version"]}).status_code == 400  # the body names something
        assert gw.patch(url, json={"body": "no version"}).status_code == 400
        assert gw.get("/api/v1/reports", params={"order_by": "body"}).status_code == 400
        assert gw.get("/api/v1/reports/r000000000000000000000000").status_code == 404
        assert gw.get(url).json()["version"] == r["version"]
    with gateway(stack, key=other_workspace["key"]) as other:
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"version": r["version"], "name": "mine"}).status_code == 404
        assert r["id"] not in [x["id"] for x in other.get("/api/v1/reports").json()["reports"]]
    with gateway(stack, key=None) as anonymous:
        assert anonymous.get(url).status_code == 401
        assert anonymous.get("/api/v1/reports").status_code == 401


def test_a_share_link_reads_the_report_and_exactly_its_widgets_until_revoked(stack: Stack) -> None:
    shown, hidden, project = new_id(), new_id(), f"share-{new_id()[:6]}"
    open_experiment(stack, shown, project=project)
    open_experiment(stack, hidden, project=project)
    widget = f"/widget/?objectType=task&objects={shown}&type=scalar&metrics=loss&variants=train"
    best = f"/widget/?project={project}&order_by=-attributes.updated&page_size=5&type=scalar&metrics=loss"
    body = f'# Shared\n\n<iframe src="{widget}" width="600" height="400"></iframe>\n\n<iframe src="{best}"></iframe>\n'
    with gateway(stack) as gw:
        r = create(gw, body=body)
        url = f"/api/v1/reports/{r['id']}"
        link = gw.post(f"{url}/share", json={"expires_in_days": 7})
        assert link.status_code == 201, link.text
        token = link.json()["token"]
        assert link.json()["url"].endswith(f"/shared/{token}") and link.json()["expires_at"] > 0
        assert [s["id"] for s in gw.get(url).json()["shares"]] == [link.json()["id"]]

    with gateway(stack, key=None) as anonymous:
        opened = anonymous.get(f"/api/v1/shared/{token}")
        assert opened.status_code == 200, opened.text
        assert opened.json()["body"] == body and "shares" not in opened.json()
        data = anonymous.get(f"{widget}&format=json&token={quote(token)}")
        assert data.status_code == 200, data.text
        assert [e["id"] for e in data.json()["experiments"]] == [shown]
        # the same link opens nothing else: another experiment, another query, the report API
        other = anonymous.get(f"/widget/?objectType=task&objects={hidden}&type=scalar&format=json&token={quote(token)}")
        assert other.status_code == 403
        another_metric = anonymous.get(f"{widget.replace('loss', 'acc')}&format=json&token={quote(token)}")
        assert another_metric.status_code == 403
        drawn_otherwise = anonymous.get(f"{widget}&light=1&xaxis=timestamp&format=json&token={quote(token)}")
        assert drawn_otherwise.status_code == 200
        # a dynamic query: exactly that query (its runs as they come), not a wider one
        latest = anonymous.get(f"{best}&format=json&token={quote(token)}")
        assert latest.status_code == 200 and {shown, hidden} <= {e["id"] for e in latest.json()["experiments"]}
        wider = anonymous.get(f"{best.replace('page_size=5', 'page_size=50')}&format=json&token={quote(token)}")
        assert wider.status_code == 403
        assert (
            anonymous.get(f"/api/v1/experiments/{hidden}", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert anonymous.get(f"/api/v1/shared/{forged}").status_code == 401

    with gateway(stack) as gw:
        assert gw.post(f"{url}/share/revoke", json={"id": link.json()["id"]}).status_code == 200
        assert gw.post(f"{url}/share/revoke", json={"id": "0" * 16}).status_code == 404
    with gateway(stack, key=None) as anonymous:
        gone = anonymous.get(f"/api/v1/shared/{token}")
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]
        assert anonymous.get(f"{widget}&format=json&token={quote(token)}").status_code == 401


def test_notes_of_a_project_and_an_experiment(stack: Stack, other_workspace: dict[str, str]) -> None:
    exp = new_id()
    open_experiment(stack, exp, project="reports-e2e")
    where = [
        ("/api/v1/notes", {"project": "reports-e2e/notes"}, {"project": "reports-e2e/notes"}),
        (f"/api/v1/experiments/{exp}/notes", {}, {}),
    ]
    with gateway(stack) as gw:
        wait_for("the experiment", lambda: gw.get(f"/api/v1/experiments/{exp}").status_code == 200)
        for url, params, body in where:
            empty = gw.get(url, params=params).json()
            assert (empty["text"], empty["version"]) == ("", 0)
            first = gw.put(url, json={**body, "version": 0, "text": "## Plan\n- [x] baseline"})
            assert first.status_code == 200, first.text
            assert first.json()["text"] == "## Plan\n- [x] baseline" and first.json()["version"] > 0
            stale = gw.put(url, json={**body, "version": 0, "text": "overwrite?"})
            assert stale.status_code == 409 and str(first.json()["version"]) in stale.json()["error"]["message"]
            assert gw.get(url, params=params).json()["text"] == "## Plan\n- [x] baseline"
        assert gw.get("/api/v1/notes").status_code == 400  # a project is named
        assert gw.put(f"/api/v1/experiments/{new_id()}/notes", json={"version": 0, "text": "?"}).status_code == 404
    with gateway(stack, key=other_workspace["key"]) as other:
        assert other.get(f"/api/v1/experiments/{exp}/notes").status_code == 404
        assert other.put(f"/api/v1/experiments/{exp}/notes", json={"version": 0, "text": "x"}).status_code == 404
        assert other.get("/api/v1/notes", params={"project": "reports-e2e/notes"}).json()["text"] == ""


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (red pixels), written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_images_are_stored_and_read_by_the_report_s_readers(stack: Stack) -> None:
    image = png()
    with gateway(stack) as gw:
        r = create(gw)
        url = f"/api/v1/reports/{r['id']}"
        stored = gw.post(f"{url}/images", content=image, headers={"Content-Type": "image/png"})
        assert stored.status_code == 201, stored.text
        assert stored.json()["content_type"] == "image/png" and stored.json()["size"] == len(image)
        src = stored.json()["url"]
        assert gw.get(src, follow_redirects=True).content == image
        for body, status in ((b"<svg onload=alert(1)></svg>", 415), (b"GIF8", 415), (b"x" * (10 * 2**20 + 1), 413)):
            refused = gw.post(f"{url}/images", content=body, headers={"Content-Type": "image/png"})
            assert refused.status_code == status, refused.text
        token = gw.post(f"{url}/share").json()["token"]
        gw.post(f"{url}/publish")
        assert gw.post(f"{url}/images", content=image).status_code == 409
        other = create(gw)
    with gateway(stack, key=None) as anonymous:
        assert anonymous.get(src).status_code == 401
        assert anonymous.get(src, params={"share": token}, follow_redirects=True).content == image
        elsewhere = src.replace(r["id"], other["id"])
        assert anonymous.get(elsewhere, params={"share": token}).status_code == 403
        assert anonymous.get(src.replace(".png", ".svg"), params={"share": token}).status_code == 404
