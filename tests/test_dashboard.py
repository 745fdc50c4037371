"""The dashboard at /__mock/: served offline by the control blueprint, driven in headless Chromium.

The browser tests use the session's `browser` fixture (tests/conftest.py) against a real mock on a
free port; each step is checked in the page and through the control API, and screenshotted into
the test's temporary folder.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mock_server import create_app
from mock_server.control import DASHBOARD
from mock_server.spec import load_control_contract

from live_server import http, start_server

ROOT = Path(__file__).resolve().parent.parent
JOURNEYS = ROOT / "fixtures" / "journeys.yaml"
ACME_TEST_KEY = "pk_test_4e1baec9e705789eebc174f4eabc875a"  # examples/keys.yaml: Acme Games, TEST
ASSETS = ["index.html", "app.js", "style.css"]
# What Chromium logs for any 4xx answer, such as a refusal a test asks for (the page shows it).
EXPECTED_REFUSAL = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


# ---- served as files ---------------------------------------------------------------------------

@pytest.fixture
def plain_client(clock):
    """A client that does not hold answers to the control spec: the page is HTML, not an API answer."""
    return create_app({"TESTING": True, "CLOCK": clock}).test_client()


def test_the_page_and_its_assets_are_served_under_the_prefix(plain_client):
    page = plain_client.get("/__mock/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert b'src="dashboard/app.js"' in page.data
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for name, mimetype in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        asset = plain_client.get(f"/__mock/dashboard/{name}")
        assert (asset.status_code, asset.mimetype) == (200, mimetype)
        assert asset.data == (DASHBOARD / name).read_bytes()
    assert plain_client.get("/__mock/dashboard/nothing.js").status_code == 404
    assert plain_client.get("/__mock/dashboard/../control.py").status_code == 404


def test_the_bare_prefix_redirects_to_the_page_and_is_not_journaled(plain_client):
    response = plain_client.get("/__mock")
    assert response.status_code == 308
    assert response.headers["Location"] == "/__mock/"  # relative: a dev server's proxy keeps the page
    assert plain_client.get("/__mock/requests").get_json()["data"] == []


def test_the_dashboard_is_off_with_the_control_api(clock):
    client = create_app({"TESTING": True, "CLOCK": clock, "CONTROL_API": False}).test_client()
    for path in ["/__mock/", "/__mock/dashboard/app.js", "/__mock/openapi.json"]:
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json() == {"status": "error", "code": 404, "message": "Route not found"}


def test_the_assets_name_no_other_host_and_write_no_html():
    """Offline: nothing is fetched from another host (the page's policy also forbids it). Data goes
    into the page as text: no innerHTML or the like, which would run partner-controlled markup."""
    for name in ASSETS:
        text = (DASHBOARD / name).read_text(encoding="utf-8")
        assert re.findall(r"https?://[^\s\"'<>)]+", text) == [], name
        assert not re.search(r"@import|url\(\s*['\"]?(?!data:)[a-z]+:", text), name
    script = (DASHBOARD / "app.js").read_text(encoding="utf-8")
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]:
        assert sink not in script


# ---- in a browser ------------------------------------------------------------------------------

@pytest.fixture
def mock():
    server = start_server("--quiet", "--keys", str(ROOT / "examples" / "keys.yaml"))
    yield server
    server.stop()


@pytest.fixture
def page(browser, mock):
    """The dashboard, open and ready; any script error fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: message.type == "error" and not EXPECTED_REFUSAL.match(message.text)
              and errors.append(message.text))
    opened.goto(mock.url + "/__mock/")
    opened.wait_for_selector("body[data-ready=true]")
    yield opened
    context.close()
    assert errors == []


def control(mock, method: str, path: str, body=None):
    status, _, answer = http(method, f"{mock.url}/__mock/{path}", body,
                             {"Content-Type": "application/json"} if body is not None else None)
    assert status == 200, answer
    return answer


def acme_user(mock, external_id: str) -> dict[str, str]:
    [profile] = control(mock, "GET", f"profiles?externalId={external_id}")["data"]
    return {"partnerId": profile["partnerId"], "environment": profile["environment"], "externalId": external_id}


def notice(page, text: str, kind: str = "") -> str:
    """Wait for a notice holding `text`; its whole text."""
    found = page.locator(f".notice{'.' + kind if kind else ''}", has_text=text).first
    found.wait_for()
    return found.text_content()


def stat(page, name: str) -> str:
    return page.text_content(f"#segment [data-stat={name}] .stat-value").strip()


def test_load_open_claim_and_advance_the_clock(page, mock, tmp_path):
    """Load journeys.yaml through the file input, open stage-new, claim its welcome spin, move the
    clock 7 days: the user, first seen 9 days ago, is no longer new but active."""
    page.click("#clock-freeze")
    page.wait_for_selector("#clock-mode.b-frozen")
    assert control(mock, "GET", "clock")["data"]["frozen"] is True

    page.set_input_files("#fixture-file", str(JOURNEYS))
    assert "Loaded journeys.yaml: 10 created, 0 updated" in notice(page, "Loaded journeys.yaml")
    page.wait_for_selector("#profiles-table tr[data-external-id=stage-new]")
    assert control(mock, "GET", "profiles")["meta"]["total"] == page.locator("#profiles-table tbody tr").count() == 10
    page.screenshot(path=tmp_path / "1-fixtures-loaded.png")

    page.click("#profiles-table tr[data-external-id=stage-new]")
    page.wait_for_selector("#user-title")
    user = acme_user(mock, "stage-new")
    listing = control(mock, "GET", "offers?" + "&".join(f"{k}={v}" for k, v in user.items()))["data"]
    assert page.text_content("#user-title") == "stage-new"
    assert stat(page, "stage") == listing["segment"]["lifecycleStage"] == "new"
    assert stat(page, "score") == str(listing["segment"]["engagementScore"])
    [offer] = listing["offers"]
    assert (offer["offerType"], offer["status"]) == ("welcome_free_play", "active")
    page.screenshot(path=tmp_path / "2-user-new.png")

    page.click(f"#offers-table tr[data-offer-id='{offer['id']}'] button.claim")
    page.wait_for_selector(f"#offers-table tr[data-offer-id='{offer['id']}'][data-status=claimed]")
    assert "+50 points" in notice(page, "Claimed")
    assert page.text_content("#timeline tbody tr:first-child .event-type") == "offer_claimed"
    [event] = control(mock, "GET", "events?limit=1&" + "&".join(f"{k}={v}" for k, v in user.items()))["data"]
    assert (event["eventType"], event["points"], event["metadata"]["offerId"]) == ("offer_claimed", 50, offer["id"])
    claimed = control(mock, "GET", "offers?" + "&".join(f"{k}={v}" for k, v in user.items()))["data"]["offers"][0]
    assert (claimed["status"], claimed["claimedAt"]) == ("claimed", event["occurredAt"])
    page.screenshot(path=tmp_path / "3-offer-claimed.png")

    before = control(mock, "GET", "clock")["data"]["now"]
    page.click("[data-advance='604800']")
    # (No wait_for_function: the page's policy allows no eval, which Playwright's polling uses.)
    page.locator("#segment [data-stat=stage] .stat-value", has_text=re.compile(r"^\s*active\s*$")).wait_for()
    assert control(mock, "GET", "profiles?externalId=stage-new")["data"][0]["lifecycleStage"] == "active"
    now = control(mock, "GET", "clock")["data"]["now"]
    assert (before[:10], now[:10]) != (now[:10], now[:10])
    assert page.text_content("#clock-now").startswith(now[:10])
    assert page.text_content("#profiles-table tr[data-external-id=stage-new]").count("active") == 1
    page.screenshot(path=tmp_path / "4-clock-advanced.png")


def test_the_journal_shows_each_request_with_its_body_and_answer(page, mock, tmp_path):
    status, _, _ = http("POST", mock.url + "/v1/user-journeys/users", {"externalId": "journal-user", "country": "KE"},
                        {"X-API-Key": ACME_TEST_KEY, "Content-Type": "application/json"})
    assert status == 200
    page.click("a[data-tab=journal]")
    entry = page.locator("details.entry", has_text="/v1/user-journeys/users").first
    entry.locator("summary").click()
    [recorded] = control(mock, "GET", "requests")["data"]
    assert entry.locator(".status").first.text_content() == str(recorded["status"]) == "200"
    request_body, response_body = entry.locator("pre.code").all_text_contents()
    assert '"externalId": "journal-user"' in request_body and '"country": "KE"' in request_body
    assert '"lifecycleStage": "new"' in response_body
    assert recorded["response"]["data"]["id"] in response_body
    page.screenshot(path=tmp_path / "journal.png")


def test_faults_are_added_listed_and_cleared(page, mock, tmp_path):
    page.click("a[data-tab=faults]")
    operations = page.locator("#fault-operation option").evaluate_all("options => options.map(o => o.value)")
    enum = load_control_contract().resolve("#/components/schemas/FaultRequest")["properties"]["operationId"]["enum"]
    assert sorted(operations) == sorted(enum)  # every operation a fault can break, as the spec orders them
    page.select_option("#fault-operation", "getUserOffers")
    page.select_option("#fault-type", "latency")
    page.fill("input[name=latencyMs]", "150")
    page.select_option("#fault-mode", "count")
    page.fill("input[name=count]", "3")
    page.click("#fault-form button[type=submit]")
    page.wait_for_selector("#faults-table tr[data-fault-id]")
    [fault] = control(mock, "GET", "faults")["data"]
    assert (fault["operationId"], fault["type"], fault["latencyMs"], fault["count"]) == (
        "getUserOffers", "latency", 150, 3)
    row = page.locator(f"#faults-table tr[data-fault-id='{fault['id']}']")
    assert "getUserOffers" in row.text_content() and "150 ms" in row.text_content() and "next 3" in row.text_content()
    assert page.text_content("#count-faults") == "1"
    page.screenshot(path=tmp_path / "faults.png")

    page.click("#faults-clear")
    notice(page, "Removed 1 fault")
    page.wait_for_selector("#faults-table td.empty")
    assert control(mock, "GET", "faults")["data"] == []


def test_reset_and_an_error_from_the_control_api_are_shown(page, mock, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"profiles": [{"apiKey": "pk_test_4e1baec9e705789eebc174f4eabc875a", '
                   '"profile": {"externalId": "x", "device": "toaster"}}]}')
    page.set_input_files("#fixture-file", str(bad))
    shown = notice(page, "Invalid request body", "error")
    assert "bad.json: 400 Invalid request body" in shown
    assert "profile.device must be one of: mobile, desktop, tablet" in shown
    page.screenshot(path=tmp_path / "error.png")

    # Partner-controlled text is shown as text.
    hostile = '<img src=x onerror="document.body.dataset.owned=1">'
    http("POST", mock.url + "/v1/user-journeys/users", {"externalId": "hostile", "displayName": hostile},
         {"X-API-Key": ACME_TEST_KEY, "Content-Type": "application/json"})
    page.click("#profile-filters button[type=submit]")
    page.wait_for_selector("#profiles-table tr[data-external-id=hostile]")
    assert hostile in page.text_content("#profiles-table")
    assert page.locator("#profiles-table img").count() == 0
    assert page.evaluate("document.body.dataset.owned") is None

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    assert "Reset: 1 profiles, 0 events and 0 offers removed" in notice(page, "Reset:")
    page.wait_for_selector("#profiles-table td.empty")
    assert control(mock, "GET", "profiles")["meta"]["total"] == 0


def test_the_api_reference_renders_both_specs(page, mock, tmp_path):
    page.click("a[data-tab=reference]")
    page.wait_for_selector("article.op[data-operation=claimOffer]")
    api = control(mock, "GET", "openapi.json")
    operations = [op["operationId"] for item in api["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op]
    shown = page.locator("article.op").evaluate_all("ops => ops.map(o => o.dataset.operation)")
    assert sorted(shown) == sorted(operations)  # each once, grouped by tag
    claim = page.locator("article.op[data-operation=claimOffer]")
    assert "/v1/user-journeys/users/{externalId}/offers/{offerId}/claim" in claim.text_content()
    assert "Offer is no longer active" in claim.text_content()  # a response example
    page.screenshot(path=tmp_path / "reference-api.png", full_page=False)

    page.click(".spec-switch button:has-text('Control API')")
    page.wait_for_selector("article.op[data-operation=claimUserOffer]")
    page.locator("article.op[data-operation=claimUserOffer]").scroll_into_view_if_needed()
    text = page.text_content("article.op[data-operation=claimUserOffer]")
    assert "/__mock/offers/claim" in text and "offerId" in text
    page.screenshot(path=tmp_path / "reference-control.png")
