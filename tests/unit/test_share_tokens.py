"""Share links and embed tokens: signed with the same secret but never interchangeable (the
prefix is signed too), expiring, and refused with a message saying what to do; the widgets a
report shows are read from its markdown."""

from __future__ import annotations

import time

import pytest

from gateway.embeds import TOKEN_PREFIX, sign, verify
from gateway.errors import ApiError
from gateway.usecases.reports import SHARE_PREFIX, widgets_of

SECRET = b"s" * 48
EXP = "0" * 32


def test_a_share_link_verifies_until_it_expires() -> None:
    token = sign(SECRET, "acme", "r" + "a" * 24 + ".0123456789abcdef", time.time() + 60, prefix=SHARE_PREFIX)
    claims = verify(SECRET, token, prefix=SHARE_PREFIX, what="share link")
    assert (claims.workspace, claims.embed_id) == ("acme", "r" + "a" * 24 + ".0123456789abcdef")
    with pytest.raises(ApiError, match=r"share link expired on .*: ask for a new link"):
        verify(SECRET, token, now=time.time() + 120, prefix=SHARE_PREFIX, what="share link")


def test_shares_and_embed_tokens_do_not_pass_for_each_other() -> None:
    share = sign(SECRET, "acme", "x.y", time.time() + 60, prefix=SHARE_PREFIX)
    embed = sign(SECRET, "acme", "x.y", time.time() + 60)
    assert embed.startswith(TOKEN_PREFIX) and share.startswith(SHARE_PREFIX)
    forged = SHARE_PREFIX + embed[len(TOKEN_PREFIX) :]  # the same payload and MAC, another prefix
    for token, prefix in ((share, TOKEN_PREFIX), (embed, SHARE_PREFIX), (forged, SHARE_PREFIX)):
        with pytest.raises(ApiError) as refused:
            verify(SECRET, token, prefix=prefix)
        assert refused.value.status == 401
    with pytest.raises(ApiError):
        verify(b"another secret", share, prefix=SHARE_PREFIX)


def test_the_widgets_of_a_report_are_its_widget_iframes() -> None:
    body = f"""
<iframe src="https://tl.example.com/widget/?objects={EXP}&amp;type=scalar&amp;metrics=loss" width="600"></iframe>
<iframe src='/widget/?project=vision&order_by=-metrics.loss/val.min&page_size=5&type=scalar'></iframe>
<iframe src="https://elsewhere.example.com/page"></iframe>
<iframe src="/widget/?type=nope"></iframe>
`<iframe src="/widget/?objects={EXP}&type=plot">` in code is text, not a widget
```html
<iframe src="/widget/?objects={EXP}&type=single"></iframe>
```
"""
    found = widgets_of(body)
    assert [(w.objects, w.type, w.metrics) for w in found[:2]] == [((EXP,), "scalar", ("loss",)), ((), "scalar", ())]
    assert found[1].query["project"] == "vision" and found[1].query["page_size"] == 5
    assert len(found) == 2  # not the other site's, not the bad one, not those in code
