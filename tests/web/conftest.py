"""Browser tests: headless Chromium (Debian's chromium + chromium-driver) through Selenium,
against a live server that serves the web pages (tests/web/serve.py: `bipa serve`, plus the
web routes if bipa/app.py does not mount them yet).

Screenshots go to test-artifacts/web/ (one per step that matters, and one on every failure,
with the browser console next to it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from db.enums import Role
from domain import users as user_service
from domain.uow import UnitOfWork
from tests.conftest import ROOT, LiveServer

ARTIFACTS = ROOT / "test-artifacts" / "web"
BARCODES = Path(os.environ.get("BIPA_BARCODES_DIR") or ROOT / "tests" / "photos")
CHROMIUM = os.environ.get("BIPA_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get(
    "BIPA_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver"
)

webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "browser tests need Debian's chromium and chromium-driver "
        "(apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@dataclass
class Caller:
    """A user with a token, talking GraphQL to the web server over HTTP (from outside the
    browser: what another operator, the bot or a phone would send)."""

    id: str
    name: str
    role: str
    token: str
    client: httpx.Client

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        r = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.token}"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body["errors"]
        return dict(body["data"])


class WebServer(LiveServer):
    """LiveServer running tests/web/serve.py (same as `bipa serve`, plus the web routes)."""

    def start(self) -> WebServer:
        import subprocess
        import sys

        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BIPA_PORT": str(self.port),
            "BIPA_LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.web.serve"],
            env=env,
            stdout=self._log,
            stderr=self._log,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become healthy in 60 s")


def serves_dashboard(url: str) -> bool:
    try:
        r = httpx.get(url + "/entrar.html", timeout=5)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and "signin-form" in r.text


@pytest.fixture(scope="session")
def web_server(request: pytest.FixtureRequest, database_url: str) -> Iterator[LiveServer]:
    """The shared `bipa serve` (live_server) once bipa/app.py mounts web_routes(); until then
    a server of our own that adds them (tests/web/serve.py)."""
    live: LiveServer = request.getfixturevalue("live_server")
    if serves_dashboard(live.url):
        yield live
        return
    server = WebServer(database_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web_http(web_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def web_user(engine: Any, web_http: httpx.Client) -> Callable[..., Any]:
    """Creates a user straight in the database; returns a Caller holding its token."""
    from db.engine import make_sessionmaker

    maker = make_sessionmaker(engine)

    async def make(role: str = "MANAGER", name: str | None = None) -> Caller:
        async with UnitOfWork(maker) as uow:
            created = await user_service.create_user(
                uow, None, name or f"{role.title()} {uuid.uuid4().hex[:6]}", Role(role), None
            )
            await uow.commit()
        return Caller(str(created.user.id), created.user.name, role, created.token, web_http)

    return make


# ---- the fake camera -------------------------------------------------------------------------


def y4m_from_photo(
    photo: Path, out: Path, size: tuple[int, int] = (640, 480), frames: int = 4
) -> Path:
    """A YUV4MPEG2 (4:2:0) video of one photo, letter-boxed into `size`, for Chromium's
    --use-file-for-fake-video-capture (no ffmpeg needed)."""
    width, height = size
    img: Image.Image = Image.open(photo)
    img = img.convert("RGBA" if img.mode == "P" else img.mode).convert("RGB")
    img.thumbnail((width, height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
    # BT.601 limited range, which is what Chromium assumes for a Y4M file.
    rgb = np.asarray(canvas, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def sub(plane: np.ndarray) -> np.ndarray:
        return np.asarray(plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)))

    planes = [np.clip(p, 0, 255).round().astype(np.uint8) for p in (y, sub(u), sub(v))]
    frame = b"FRAME\n" + b"".join(p.tobytes() for p in planes)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".encode()
    out.write_bytes(header + frame * frames)
    return out


def barcode_photo(name: str) -> tuple[Path, str]:
    path = BARCODES / name
    if not path.exists():
        pytest.fail(f"test photo missing: {path}")
    return path, path.with_suffix(".txt").read_bytes().decode()


# ---- the browser -----------------------------------------------------------------------------


class Browser:
    """A headless Chromium with helpers for waiting, screenshots and network emulation."""

    def __init__(self, driver: WebDriver, base_url: str, name: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.name = name
        self.shots: list[Path] = []

    def get(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def sign_in_with(self, token: str) -> None:
        """Stores a token the way the sign-in page does (fast path for tests about other pages)."""
        self.get("/entrar.html")
        self.driver.execute_script(
            "localStorage.setItem('bipa.token', arguments[0]);"
            "localStorage.setItem('bipa.user', JSON.stringify(arguments[1]));",
            token,
            {"id": "", "name": "Teste", "role": "MANAGER"},
        )

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        """The element's visible text, read in one go (the pages re-render live)."""
        value = self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;", css
        )
        if value is None:
            raise AssertionError(f"no element matches {css!r}")
        return " ".join(str(value).split())

    def rows(self, css: str, *names: str) -> list[tuple[str | None, ...]]:
        """Several attributes of every element that matches, read in one go."""
        values = self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(el => arguments[1].map(n => el.getAttribute(n)));",
            css,
            list(names),
        )
        return [tuple(v) for v in values]

    def attrs(self, css: str, name: str) -> list[str | None]:
        """One attribute of every element that matches, read in one go."""
        return list(
            self.driver.execute_script(
                "return [...document.querySelectorAll(arguments[0])]"
                ".map(el => el.getAttribute(arguments[1]));",
                css,
                name,
            )
        )

    def wait(self, condition: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
        try:
            return WebDriverWait(
                self.driver,
                timeout,
                poll_frequency=0.1,
                ignored_exceptions=(StaleElementReferenceException, AssertionError),
            ).until(lambda _d: condition())
        except TimeoutException:
            self.screenshot("timeout")
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or condition}"
            ) from None

    def click(self, css: str, timeout: float = 15) -> None:
        """Click, retrying when a live update re-renders the element between find and click."""

        def attempt() -> bool:
            element = self.find(css)
            try:
                element.click()
            except ElementClickInterceptedException:
                # Selenium scrolled it to the top edge, under the sticky top bar, which took
                # the click: to the middle of the window, as a person would look at it.
                self.driver.execute_script(
                    "arguments[0].scrollIntoView({block: 'center'})", element
                )
                element.click()
            return True

        self.wait(attempt, timeout, f"a click on {css!r}")

    def wait_css(self, css: str, timeout: float = 15) -> Any:
        return self.wait(lambda: (self.find_all(css) or [None])[0], timeout, css)

    def wait_text(self, css: str, needle: str, timeout: float = 15) -> str:
        def check() -> str | None:
            text = self.text(css)
            return text if needle in text else None

        return str(self.wait(check, timeout, f"{css!r} to contain {needle!r}"))

    def screenshot(self, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{step}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def set_offline(self, offline: bool) -> None:
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {
                "offline": offline,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
            },
        )

    def console(self) -> list[dict[str, Any]]:
        try:
            return list(self.driver.get_log("browser"))  # type: ignore[attr-defined]
        except Exception:
            return []

    def graphql_posts(self) -> list[dict[str, Any]]:
        """POSTs to /graphql that got an answer, from the performance (DevTools) log."""
        sent: dict[str, dict[str, Any]] = {}
        answered: set[str] = set()
        for entry in self.driver.get_log("performance"):  # type: ignore[attr-defined]
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg.get("method") == "Network.requestWillBeSent":
                req = params.get("request", {})
                if req.get("url", "").endswith("/graphql") and req.get("method") == "POST":
                    sent[params["requestId"]] = req
            elif msg.get("method") == "Network.responseReceived":
                answered.add(params.get("requestId"))
        return [req for rid, req in sent.items() if rid in answered]


def chrome_options(
    user_data_dir: str,
    *,
    camera: Path | bool | None = None,
    window: tuple[int, int] = (1280, 900),
) -> Options:
    """camera: a .y4m/.mjpeg file to play as the camera, True for Chromium's test pattern,
    None for no camera at all."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--autoplay-policy=no-user-gesture-required",
        "--lang=pt-BR",
        f"--window-size={window[0]},{window[1]}",
        f"--user-data-dir={user_data_dir}",
        "--use-fake-ui-for-media-stream",
    ):
        options.add_argument(flag)
    if camera:
        options.add_argument("--use-fake-device-for-media-stream")
    if isinstance(camera, Path):
        options.add_argument(f"--use-file-for-fake-video-capture={camera}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return options


@pytest.fixture
def browser_factory(
    request: pytest.FixtureRequest, web_server: LiveServer, tmp_path: Path
) -> Iterator[Callable[..., Browser]]:
    """browser_factory(camera=Path|True|None, window=(w, h), init_script=str|None, phone=bool)."""
    made: list[tuple[Browser, str]] = []

    def make(
        camera: Path | bool | None = None,
        window: tuple[int, int] = (1280, 900),
        init_script: str | None = None,
        phone: bool = False,
    ) -> Browser:
        profile = tempfile.mkdtemp(prefix="bipa-chromium-", dir=tmp_path)
        options = chrome_options(profile, camera=camera, window=window)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        if phone:
            # A mid-range Android phone: 412 x 915 CSS pixels, touch, mobile viewport rules.
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": 412, "height": 915, "deviceScaleFactor": 1, "mobile": True},
            )
            driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
        if init_script:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": init_script})
        name = request.node.name.replace("test_", "", 1)
        if made:
            name += f"-{len(made) + 1}"
        browser = Browser(driver, web_server.url, name)
        made.append((browser, profile))
        return browser

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for browser, _profile in made:
        try:
            if failed:
                browser.screenshot("failure")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (ARTIFACTS / f"{browser.name}-console.json").write_text(
                    json.dumps(browser.console(), indent=2, ensure_ascii=False)
                )
        finally:
            browser.driver.quit()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
