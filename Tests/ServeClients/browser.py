#!/usr/bin/env python3
"""The web dashboard in a real headless Chromium, driven by Selenium (PyPI) through Debian's
chromedriver. Run by ServeEndToEndTests.testBrowserDashboard:

  browser.py LOGIN_URL READ_LOGIN_URL AGENTS TARGET TEXT SCREENSHOT [ASKING]

LOGIN_URL is the line `supervisor serve` printed (control token); AGENTS is a comma-separated
list of profile/agent tiles the page must show; TEXT is typed into TARGET's input box; the
page is saved as a PNG at SCREENSHOT. TARGET must have printed `red-marker` in bold red
(SGR 1;31): the page must paint that cell so. Its stop and start buttons must stop and start it.
ASKING, a coder that asks permission for a tool call, must show the question with its
buttons; "yes" is clicked and the question must go. Then it logs in with READ_LOGIN_URL and checks that a read-only token gets no input box and no
buttons. Prints one line per step; exits 1 with the reason on failure.
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def wait(what, predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = predicate()
        except Exception:  # the page is still changing under us (stale elements): ask again
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main():
    login, read_login, agents, target, text, screenshot = sys.argv[1:7]
    asking = sys.argv[7] if len(sys.argv) > 7 else None
    options = Options()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,950"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(login)
        # The login redirects the token out of the address bar.
        wait("the redirect to /", lambda: driver.current_url.rstrip("/").count("/") == 2 and "token" not in driver.current_url)
        print("logged in:", driver.current_url)

        def tile(key):
            return driver.find_element(By.CSS_SELECTOR, f'.tile[data-agent="{key}"]')

        for key in agents.split(","):
            wait(f"the tile of {key} with its terminal", lambda: tile(key).find_element(By.CSS_SELECTOR, ".screen").text.strip())
            state = tile(key).find_element(By.CSS_SELECTOR, ".state").text
            print(f"tile {key}: {state}")
        tile(target).click()
        box = wait("the input box", lambda: driver.find_element(By.ID, "input") if driver.find_element(By.ID, "input").is_displayed() else None)
        box.send_keys(text + Keys.ENTER)
        wait("the input box to clear", lambda: driver.find_element(By.ID, "input").get_attribute("value") == "")
        wait("the typed text on the focused terminal", lambda: text in driver.find_element(By.ID, "focus-screen").text)
        wait("some timeline", lambda: driver.find_elements(By.CSS_SELECTOR, "#timeline div"))
        print("typed into", target)

        # Colours: the bold red cell is a span painted bold red; the state chip is coloured by meaning.
        red = wait("the red cell on the focused terminal", lambda: next(
            (e for e in driver.find_elements(By.CSS_SELECTOR, "#focus-screen span") if e.text == "red-marker"), None))
        colour, weight = red.value_of_css_property("color"), red.value_of_css_property("font-weight")
        if colour not in ("rgba(205, 0, 0, 1)", "rgb(205, 0, 0)") or weight not in ("700", "bold"):
            raise SystemExit(f"red-marker is painted {colour}, weight {weight}: not bold red")
        chip = driver.find_element(By.ID, "focus-state")
        print(f"coloured cell: {colour} weight {weight}; state chip {chip.text}: {chip.value_of_css_property('background-color')}")

        # Buttons: stop, then start, the focused agent.
        def button(op):
            return driver.find_element(By.CSS_SELECTOR, f'#controls button[data-op="{op}"]')

        def state():
            return tile(target).find_element(By.CSS_SELECTOR, ".state").text

        wait("the stop button", lambda: button("stop").is_displayed() and button("stop").is_enabled())
        button("stop").click()
        wait(f"{target} to stop (state {state()})", lambda: state() == "stopped")
        wait("the start button", lambda: button("start").is_enabled())
        button("start").click()
        wait(f"{target} to run again (state {state()})", lambda: state() == "running")
        wait("the red cell again", lambda: "red-marker" in driver.find_element(By.ID, "focus-screen").text)
        print("buttons: stopped, then started", target)

        if asking:
            tile(asking).click()
            wait(f"the ask chip on {asking}", lambda: tile(asking).find_element(By.CSS_SELECTOR, ".ask").text.startswith("asks: "))
            question = wait("the permission question", lambda: driver.find_element(By.ID, "question") if driver.find_element(By.ID, "question").is_displayed() else None)
            asked = question.find_element(By.ID, "question-text").text
            question.find_element(By.CSS_SELECTOR, 'button[data-answer="yes"]').click()
            wait("the question to go", lambda: not driver.find_element(By.ID, "question").is_displayed())
            print(f"answered {asking}'s question ({asked}): yes")
        driver.save_screenshot(screenshot)
        print("screenshot:", screenshot)

        driver.get(read_login)
        wait("the read-only page", lambda: "read-only" in driver.find_element(By.ID, "scope").text)
        wait(f"the tile of {target}", lambda: tile(target)).click()
        wait("the focus panel", lambda: driver.find_element(By.ID, "focus").is_displayed())
        if driver.find_element(By.ID, "input").is_displayed():
            raise SystemExit("a read-only token got an input box")
        if driver.find_element(By.ID, "controls").is_displayed():
            raise SystemExit("a read-only token got start/stop buttons")
        # The page hiding the box is a courtesy; the server refuses a read token's input anyway.
        status = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"fetch('/api/profiles/{target.replace('/', '/agents/')}/input', {{method: 'POST', body: 'refused-marker'}})"
            ".then(r => done(r.status), e => done(String(e)));")
        if status != 403:
            raise SystemExit(f"a read token's input from the page got {status}, not 403")
        print("read-only: no input box, no buttons, input refused with 403")
    except BaseException:
        driver.save_screenshot(screenshot)
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
