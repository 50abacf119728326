"""A real browser through the pages: headless Chromium (Debian ``chromium`` + ``chromium-driver``)
driven by Selenium logs in, reads the overview, filters mentions, corrects one, acknowledges an
alert, and leaves screenshots in the test's tmp folder. The store is checked after each change,
and no hostile mention text ever runs as script (an alert() would open a dialog)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from alerts import records
from monitor.store import query
from monitor.store.query import MentionFilter
from tests.monitor.web.helpers import BRAND_NAME, SCRIPT, TOKENS, Site

pytestmark = pytest.mark.slow

CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not Path(CHROMEDRIVER).exists() or shutil.which("chromium") is None:
        pytest.fail("headless Chromium not found: `apt-get install -y chromium chromium-driver` (make sysdeps)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1800", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def web(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    site = Site.start(tmp_path, sqlite_url, monkeypatch)
    yield site
    site.stop()


def no_script_ran(driver: webdriver.Chrome) -> None:
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script from the data ran: alert({text!r})")


def navigate(driver: webdriver.Chrome, element: WebElement) -> None:
    """Click ``element`` and wait until the page it leads to has replaced this one (a click does
    not wait for the navigation it starts; on a busy machine the old page lingers)."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(staleness_of(page))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def submit(driver: webdriver.Chrome, form: WebElement) -> None:
    navigate(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def test_analyst_workflow_in_a_real_browser(browser: webdriver.Chrome, web: Site, tmp_path: Path) -> None:
    d = browser
    # 1. not logged in: the overview sends the browser to the login page; log in as a responder
    d.get(f"{web.base}/")
    assert "/login" in d.current_url
    d.find_element(By.NAME, "token").send_keys(TOKENS["respond"])
    d.find_element(By.NAME, "name").send_keys("王五")
    submit(d, d.find_element(By.CSS_SELECTOR, "form.login"))

    # 2. the overview: one card per brand, its trend chart, the open alert
    assert d.current_url == f"{web.base}/"
    assert d.find_element(By.TAG_NAME, "h1").text == "品牌概览"
    card = d.find_element(By.ID, "brand-acme")
    assert BRAND_NAME in card.find_element(By.TAG_NAME, "h2").text  # the markup in the name is shown as text
    assert card.find_elements(By.CSS_SELECTOR, "svg.chart rect.pos")
    assert card.find_element(By.LINK_TEXT, f"告警 #{web.alert_id}")
    no_script_ran(d)
    overview = tmp_path / "overview.png"
    d.save_screenshot(str(overview))
    print(f"\nscreenshot of the overview: {overview}")

    # 3. the mention stream, filtered to acme's negative mentions
    navigate(d, d.find_element(By.LINK_TEXT, "提及"))
    filters = d.find_element(By.CSS_SELECTOR, "form.filters")
    Select(filters.find_element(By.NAME, "brand")).select_by_value("acme")
    Select(filters.find_element(By.NAME, "sentiment")).select_by_value("negative")
    submit(d, filters)
    assert "brand=acme" in d.current_url and "sentiment=negative" in d.current_url
    rows = d.find_elements(By.CSS_SELECTOR, "table.mentions tbody tr")
    assert len(rows) == 2
    assert any(SCRIPT in r.text for r in rows)  # shown, not run
    no_script_ran(d)

    # 4. correct one: 阿克米变质 ... is relabelled neutral, and the store says so
    target = next(r for r in rows if "阿克米变质" in r.text)
    relabel = target.find_element(By.CSS_SELECTOR, "form.relabel")
    Select(relabel.find_element(By.NAME, "label")).select_by_value("neutral")
    submit(d, relabel)
    assert "sentiment=negative" in d.current_url  # back on the filtered list
    assert len(d.find_elements(By.CSS_SELECTOR, "table.mentions tbody tr")) == 1
    [row] = query.search_mentions(web.daemon.engine, MentionFilter(text="阿克米变质")).rows
    assert (row.sentiment_label, row.model_label, row.corrected_by) == ("neutral", "negative", "王五")
    d.save_screenshot(str(tmp_path / "mentions.png"))

    # 5. acknowledge the alert from its detail page
    navigate(d, d.find_element(By.LINK_TEXT, "告警"))
    navigate(d, d.find_element(By.LINK_TEXT, f"#{web.alert_id}"))
    assert d.find_element(By.TAG_NAME, "h1").text == f"告警 #{web.alert_id}"
    ack = d.find_element(By.CSS_SELECTOR, f"form[action='/alerts/{web.alert_id}/ack']")
    ack.find_element(By.NAME, "note").send_keys("公关部已跟进")
    submit(d, ack)
    assert d.current_url == f"{web.base}/alerts/{web.alert_id}"
    with web.daemon.engine.connect() as conn:
        alert = records.get_alert(conn, web.alert_id)
        events = records.alert_events(conn, web.alert_id)
    assert (alert.state.value, alert.acknowledged_by) == ("acknowledged", "王五")
    assert (events[-1]["actor"], events[-1]["reason"]) == ("王五", "公关部已跟进")
    assert "王五" in d.find_element(By.CSS_SELECTOR, "table.timeline").text
    no_script_ran(d)
    d.save_screenshot(str(tmp_path / "alert.png"))

    # 6. English, remembered across pages
    d.get(f"{web.base}/?lang=en")
    assert d.find_element(By.TAG_NAME, "h1").text == "Brands overview"
    navigate(d, d.find_element(By.LINK_TEXT, "Alerts"))
    assert d.find_element(By.TAG_NAME, "h1").text == "Alerts"
    for shot in ("overview.png", "mentions.png", "alert.png"):
        assert (tmp_path / shot).stat().st_size > 10_000
