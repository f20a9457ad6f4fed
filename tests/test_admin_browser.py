"""Staff change a listener's list in a real browser; the API shows exactly that change.

Drives Debian's ``chromium`` with ``chromium-driver`` through Selenium against the live
server, and saves the screenshots the documentation shows (``docs/admin-*.png``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as expected
from selenium.webdriver.support.ui import Select, WebDriverWait

from dch_favourites.models import Favourite, FavouriteListState
from dch_favourites.services import add_favourites
from factories import AccessTokenFactory, ConcertFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.live]

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_binary(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile; skipped where none is installed."""
    chromium = find_binary("chromium", "chromium-browser")
    chromedriver = find_binary("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip(
            "needs Debian's chromium and chromium-driver on PATH "
            "(apt-get install -y chromium chromium-driver)"
        )
    with tempfile.TemporaryDirectory(prefix="dch-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        try:
            driver.set_window_size(1280, 900)
            yield driver
        finally:
            driver.quit()


def wait_for(driver: WebDriver, css: str, timeout: float = 20) -> Any:
    return WebDriverWait(driver, timeout).until(
        expected.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def log_in(driver: WebDriver, base: str, next_path: str) -> None:
    driver.get(f"{base}/admin/login/?next={next_path}")
    # The navigation sidebar closed, so the screenshots show whole tables.
    driver.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    wait_for(driver, "#id_username").send_keys("staff")
    driver.find_element(By.ID, "id_password").send_keys("secret")
    driver.find_element(By.CSS_SELECTOR, "#login-form input[type=submit]").click()


def choose_in_autocomplete(driver: WebDriver, row: Any, search: str, item_id: str) -> None:
    """Open a row's select2 widget, search, and pick the result for ``item_id``."""
    row.find_element(By.CSS_SELECTOR, ".select2-selection").click()
    wait_for(driver, ".select2-container--open .select2-search__field").send_keys(search)
    option = WebDriverWait(driver, 20).until(
        expected.element_to_be_clickable(
            (
                By.XPATH,
                "//li[contains(@class, 'select2-results__option')]"
                f"[starts-with(normalize-space(.), 'interview {item_id}:')]",
            )
        )
    )
    option.click()


@pytest.mark.django_db(transaction=True)
def test_staff_change_a_list_in_the_browser_and_the_api_shows_it(
    browser: WebDriver, live_server: Any, spec_items: Any
) -> None:
    ConcertFactory(id="23427", title="Simon Rattle conducts Boulez and Mahler")
    listener = UserFactory(username="listener", email="listener@example.com")
    token = AccessTokenFactory(user=listener)
    UserFactory(username="staff", is_staff=True, is_superuser=True)
    add_favourites(listener, ["301"])
    add_favourites(listener, ["23427-1"])
    for name, items in (("anna", ["23427-3", "301"]), ("ben", ["23427"]), ("chiara", ["23427-1"])):
        add_favourites(UserFactory(username=name, email=f"{name}@example.org"), items)
    before = FavouriteListState.objects.get(user=listener)
    base = live_server.url
    user_page = f"/admin/auth/user/{listener.pk}/change/"

    # 1. Add "23427-3" through the inline on the listener's page.
    log_in(browser, base, user_page)
    inline = wait_for(browser, "#dch_favourites-group")
    assert [
        cell.text for cell in inline.find_elements(By.CSS_SELECTOR, "tr.has_original td.field-item")
    ] == [
        "work 23427-1: [Éclat] (1st Version for 15 instruments from 1965)",
        "film 301: “Guardians of Unity”: Conductors in conversation",
    ]
    blank_row = inline.find_element(By.ID, "dch_favourites-2")
    choose_in_autocomplete(browser, blank_row, "Introduction", "23427-3")
    browser.find_element(By.NAME, "_continue").click()
    assert "was changed successfully" in wait_for(browser, ".messagelist .success").text
    inline = wait_for(browser, "#dch_favourites-group")
    assert [
        cell.text.split(":")[0]
        for cell in inline.find_elements(By.CSS_SELECTOR, "tr.has_original td.field-item")
    ] == ["interview 23427-3", "work 23427-1", "film 301"]
    browser.execute_script("arguments[0].scrollIntoView();", inline)
    inline.screenshot(str(DOCS / "admin-user-inline.png"))

    # 2. Delete "301" from the favourites changelist with the "delete selected" action.
    browser.get(f"{base}/admin/dch_favourites/favourite/")
    wait_for(browser, "#result_list")
    target = Favourite.objects.get(user=listener, item_id="301")
    browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{target.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("delete_selected")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    wait_for(browser, "body.delete-selected-confirmation form input[type=submit]").click()
    assert wait_for(browser, ".messagelist .success").text == "Successfully deleted 1 favourite."
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 6
    browser.save_screenshot(str(DOCS / "admin-favourites.png"))

    # 3. The listener's app sees exactly those two changes.
    response = requests.get(
        f"{base}/v2/user/favourites",
        headers={"Authorization": f"Bearer {token.token}"},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert [entry["id"] for entry in body["_links"]["favourites"]] == ["23427-3", "23427-1"]
    after = FavouriteListState.objects.get(user=listener)
    assert after.version == before.version + 2
    assert body["updated"] == after.updated > before.updated
    assert list(Favourite.objects.filter(user=listener).values_list("item_id", flat=True)) == [
        "23427-3",
        "23427-1",
    ]
    for name in ("admin-user-inline.png", "admin-favourites.png"):
        assert (DOCS / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
