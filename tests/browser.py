"""A real browser: Debian's headless Chromium driven by selenium through chromedriver.

The served console draws on a canvas (xterm.js), so its text is read where the browser
received it: the websocket frames in Chromium's performance log, the same bytes the page
hands its terminal. Keys go in through the page's own terminal, as a user's would.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from factories import wait_until

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromedriver are not installed (make tools installs them)")

_ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


class Browser:
    """One headless Chromium (a profile of its own) and the console pages it opens."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="synctui-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=1200,800", f"--user-data-dir={self._profile.name}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self._drawn: dict[str, bytes] = {}

    def open_tab(self, url: str) -> str:
        """Open `url` in a new tab; its window handle. What `drawn` tells starts afresh."""
        self.drawn()  # takes what earlier tabs left in the log
        self._drawn.clear()
        self.driver.switch_to.new_window("tab")
        self.driver.get(url)
        return self.driver.current_window_handle

    def close_tab(self) -> None:
        """Close the current tab and go back to the first."""
        self.driver.close()
        self.driver.switch_to.window(self.driver.window_handles[0])

    def page_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def drawn(self) -> str:
        """Everything the console websockets have drawn since the tab opened, escape
        sequences removed."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] != "Network.webSocketFrameReceived":
                continue
            frame = message["params"]["response"]
            if frame["opcode"] == 2:  # binary: what the console wrote to its terminal
                key = message["params"]["requestId"]
                self._drawn[key] = self._drawn.get(key, b"") + base64.b64decode(frame["payloadData"])
        return "".join(_ESCAPES.sub(b"", data).decode("utf-8", "replace")
                       for data in self._drawn.values())

    def shows(self, text: str, timeout: float = 20.0) -> bool:
        return wait_until(lambda: text in self.drawn(), timeout)

    def press(self, keys: str) -> None:
        """Type into the page's terminal."""
        terminal = self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        self.driver.execute_script("arguments[0].focus()", terminal)  # it sits off screen
        ActionChains(self.driver).send_keys(keys).perform()

    def script(self, code: str, *args):
        """Run `code` in the current tab; what it passes to its last argument, a callback."""
        return self.driver.execute_async_script(code, *args)

    def quit(self) -> None:
        self.driver.quit()
        self._profile.cleanup()
