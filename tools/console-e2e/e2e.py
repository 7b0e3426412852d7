"""The console end to end, in headless Chromium (Debian's chromium and chromedriver, through
selenium's WebDriver), with axe-core injected into every page.

    e2e.py BIN [--screenshots DIR]

starts `BIN serve --console` on free ports in a temporary folder, registers an administrator
and a read-only user, and plays the issue's scenario: sign in, the overview's counts against the
API's, create a policy (what-if first), assign it, check a device in failing and watch it turn
noncompliant without a reload, advance the clock, find the email in the outbox and the lock in
the device's history, sign out; a read-only user finds no way to write; a POST without the CSRF
token is refused. Every page visited must have no serious or critical axe violation. With
--screenshots, a PNG of each page goes to DIR. Prints `ok - …` / `FAIL - …` lines, then
`N passed, M failed`; exits 1 if any failed.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT = "11111111-1111-4111-8111-111111111111"
SECRET = "console-e2e-secret"
PASSWORD = "Pa55word!"
ADMIN_SCOPES = ",".join([
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "Directory.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.Read.All",
])
READER_SCOPES = ",".join([
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "Directory.Read.All",
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementApps.Read.All",
])
WAIT = 20

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"FAIL - {what}: {detail}")
    return ok


class Complyd:
    """A complyd with its console, in a folder of its own."""

    def __init__(self, binary, data):
        self.binary, self.data = binary, data
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--console", "127.0.0.1:0",
             "--data", data, "--jwt-secret", SECRET],
            stdout=subprocess.PIPE, stderr=open(os.path.join(data, "stderr.log"), "w"), text=True)
        self.api = self.console = None
        while self.console is None:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("complyd did not start: see " + os.path.join(data, "stderr.log"))
            if line.startswith("listening on "):
                self.api = line.split()[-1]
            if line.startswith("console on "):
                self.console = line.split()[-1].removesuffix("/console")
        self.token = self.cli("token", "--jwt-secret", SECRET, "--tenant", TENANT,
                              "--scopes", ADMIN_SCOPES).strip()

    def cli(self, *args):
        return subprocess.run([self.binary, *args, "--data", self.data], check=True,
                              capture_output=True, text=True).stdout

    def user(self, name, scopes):
        self.cli("user", "add", "--tenant", TENANT, "--username", name, "--password", PASSWORD,
                 "--scopes", scopes)
        return name

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.api + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return json.loads(text) if text else None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def browser():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,1000", "--lang=en-US"]:
        options.add_argument(flag)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


class Session:
    """One browser, its axe checks and screenshots."""

    def __init__(self, complyd, screenshots):
        self.complyd, self.screenshots = complyd, screenshots
        self.driver = browser()
        with open(os.path.join(HERE, "node_modules", "axe-core", "axe.min.js")) as f:
            self.axe = f.read()

    def go(self, path):
        self.driver.get(self.complyd.console + path)

    def wait_for(self, what, condition):
        """Waits until `condition(driver)` holds; counts the outcome as a check. A page being
        replaced meanwhile is waited out: whatever the driver raises while it is (a stale
        element, a document unloading under the script) is asked again until the time is up."""
        try:
            WebDriverWait(self.driver, WAIT, ignored_exceptions=(WebDriverException,)) \
                .until(lambda d: condition(d))
            return check(what, True)
        except Exception as e:  # a timeout says what did not happen
            return check(what, False, f"{type(e).__name__}; page: {self.driver.current_url}")

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def accessible(self, name):
        """axe-core over the page as it stands: no serious or critical violation."""
        self.driver.execute_script(self.axe)
        violations = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
        bad = [v for v in violations if v.get("impact") in ("serious", "critical")]
        check(f"axe finds no serious or critical violation on {name}", not bad,
              "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at "
                        + ", ".join(n["target"][0] if n.get("target") else "?" for n in v["nodes"][:3])
                        for v in bad))
        if self.screenshots:
            self.driver.save_screenshot(os.path.join(self.screenshots, f"{name}.png"))

    def sign_in(self, username):
        self.go("/console")
        self.wait_for("the sign-in page shows", lambda d: d.find_elements(By.ID, "username"))
        self.accessible("sign-in")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(PASSWORD)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        return self.wait_for(f"{username} signs in and sees the overview",
                             lambda d: d.current_url.endswith("/console") and "Overview" in d.title)

    def posting_forms(self):
        """The actions of the page's POST forms."""
        return [f.get_attribute("action") for f in
                self.driver.find_elements(By.CSS_SELECTOR, "form[method=post]")]

    def quit(self):
        self.driver.quit()


def overview_counts(s):
    return {e.get_attribute("data-verdict"): int(e.text)
            for e in s.driver.find_elements(By.CSS_SELECTOR, "[data-verdict]")}


def administrator(complyd, s, device, template):
    c = complyd
    s.sign_in("admin@contoso.test")
    summary = c.call("GET", "/v1.0/deviceManagement/deviceCompliancePolicyDeviceStateSummary")
    shown = overview_counts(s)
    check("the overview's counts are the API's",
          shown.get("compliant") == summary["compliantDeviceCount"]
          and shown.get("noncompliant") == summary["nonCompliantDeviceCount"]
          and shown.get("inGracePeriod") == summary["inGracePeriodCount"],
          f"shown {shown}, API {summary}")
    s.accessible("overview")

    # A policy, previewed then saved.
    s.go("/console/policies/new")
    Select(s.driver.find_element(By.ID, "type")).select_by_value("iosCompliancePolicy")
    s.driver.find_element(By.ID, "displayName").send_keys("Passcode required")
    settings = s.driver.find_element(By.ID, "settings")
    settings.clear()
    settings.send_keys('{"passcodeRequired": true}')
    s.driver.find_element(By.ID, "notify").send_keys("24")
    Select(s.driver.find_element(By.ID, "template")).select_by_value(template)
    s.driver.find_element(By.ID, "lock").send_keys("120")
    s.accessible("policy-form")
    s.driver.find_element(By.CSS_SELECTOR, "button[value=whatif]").click()
    s.wait_for("the what-if shows before saving", lambda d: d.find_elements(By.ID, "whatif"))
    check("the what-if reaches the tenant's device", "would reach 1 device" in s.text(), s.text()[:400])
    s.driver.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    s.wait_for("the policy is created", lambda d: "The policy was created." in s.text())
    policy_url = s.driver.current_url.split("?")[0]
    check("the policy page shows its action timeline",
          "After 5 day(s): remoteLock" in s.text() and "After 1 day(s): notification" in s.text(), s.text()[:600])

    # Assigned to every device.
    Select(s.driver.find_element(By.NAME, "target")).select_by_value("allDevices")
    s.driver.find_element(By.XPATH, "//button[text()='Add assignment']").click()
    s.wait_for("the assignment is added", lambda d: "The assignment was added." in s.text())
    check("the assignment is listed", "All devices" in s.text())
    s.accessible("policy")
    s.go("/console/policies")
    check("the policies list shows the policy with its assignment",
          "Passcode required" in s.text() and "iOS/iPadOS" in s.text(), s.text()[:400])
    s.accessible("policies")

    # The device turns noncompliant while its page is open, without a reload.
    s.go(f"/console/devices/{device}")
    s.wait_for("the device page listens for changes",
               lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live-connected") == "true")
    s.driver.execute_script("window.notReloaded = true;")
    c.call("POST", f"/complyd/v1/devices/{device}/checkIn", {"passwordSet": False})
    turned = s.wait_for("the device turns noncompliant live",
                        lambda d: d.find_element(By.ID, "verdict").text == "Noncompliant")
    if turned:
        check("the page was not reloaded", s.driver.execute_script("return window.notReloaded === true;"))
        check("the policy's setting shows reported against required",
              "passcodeRequired" in s.text(), s.text()[:800])
    s.accessible("device")
    s.go("/console/devices?verdict=noncompliant")
    check("the device list filters by verdict", "IPHONE-1" in s.text(), s.text()[:400])
    s.accessible("devices")

    # The clock: preview, then advance; the email and the lock follow.
    s.go("/console/simulation?preview=P5D")
    preview = s.text()
    check("the preview lists what would fire", "notification" in preview and "remoteLock" in preview, preview[:800])
    s.accessible("simulation")
    s.driver.find_element(By.XPATH, "//button[text()='Advance by P5D']").click()
    s.wait_for("the clock moves", lambda d: d.find_elements(By.ID, "moved"))
    check("the move fired two actions", "2 item(s) fired" in s.text(), s.text()[:600])
    s.go("/console/outbox")
    check("the email is in the outbox", "Fix IPHONE-1" in s.text() and "greta@contoso.test" in s.text(), s.text()[:600])
    s.accessible("outbox")
    s.go(f"/console/devices/{device}")
    history = s.driver.find_element(By.XPATH, "//h2[text()='Action history']/following-sibling::div").text
    check("the lock is in the device's history", "remoteLock" in history, history)
    # The overview after the move: the trend steps through it, and the uncovered count is the API's.
    s.go("/console")
    verdicts = c.call("GET", "/complyd/v1/verdicts")
    uncovered = s.driver.find_element(By.CSS_SELECTOR, "[data-count=devicesWithoutPolicy]").text
    check("the overview shows the devices no policy covers as the API counts them",
          uncovered == str(verdicts["devicesWithoutPolicy"]), f"shown {uncovered}, API {verdicts}")
    check("the trend is drawn, a line per verdict",
          len(s.driver.find_elements(By.CSS_SELECTOR, "svg.trend path")) == 3, s.text()[:400])
    check("the API's trend has the point where the device failed",
          any(p["noncompliant"] == 1 for p in verdicts["trend"]), str(verdicts["trend"]))
    s.accessible("overview-trend")

    # Users: the list filters by name, a user's page lists their devices.
    s.go("/console/users?name=Gre")
    check("the users list finds Greta", "greta@contoso.test" in s.text(), s.text()[:400])
    s.accessible("users")
    s.driver.find_element(By.LINK_TEXT, "Greta").click()
    s.wait_for("the user's page opens", lambda d: "Managed devices" in s.text())
    check("the user's page lists her device and its verdict",
          "IPHONE-1" in s.text() and "Noncompliant" in s.text(), s.text()[:600])
    s.accessible("user")
    for page in ["groups", "audit"]:
        s.go(f"/console/{page}")
        check(f"the {page} page shows", "Sign out" in s.text())
        s.accessible(page)

    # A POST without the CSRF token is refused, from the console's own page.
    status = s.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/console/simulation/clock', {method: 'POST', credentials: 'same-origin',"
        " headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'advanceBy=P1D'})"
        ".then(r => done(r.status), () => done(0));")
    check("a POST without the CSRF token is refused", status == 403, f"status {status}")
    clock = c.call("GET", "/complyd/v1/clock")
    check("the refused POST moved nothing", clock["now"].startswith("2031-03-06"), clock["now"])

    # Sign out.
    s.driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
    s.wait_for("signing out says so", lambda d: "You are signed out" in s.text())
    s.accessible("signed-out")
    s.go("/console/devices")
    check("after signing out the console asks to sign in again",
          "/oauth2/v2.0/authorize" in s.driver.current_url, s.driver.current_url)
    return policy_url


def reader(complyd, s, device, policy_url):
    s.sign_in("reader@contoso.test")
    for path in ["/console", "/console/policies", policy_url.removeprefix(complyd.console),
                 f"/console/devices/{device}", "/console/simulation", "/console/policies/new"]:
        s.go(path)
        writes = [a for a in s.posting_forms() if not a.endswith("/console/signout")]
        check(f"a read-only user finds no write form on {path}", not writes, str(writes))
        check(f"a read-only user finds no create link on {path}",
              not s.driver.find_elements(By.LINK_TEXT, "Create a policy"))
    check("the policy form tells a reader why it is not there",
          "You cannot create or edit policies" in s.text(), s.text()[:300])


def main():
    binary = sys.argv[1]
    screenshots = None
    if "--screenshots" in sys.argv:
        screenshots = sys.argv[sys.argv.index("--screenshots") + 1]
        os.makedirs(screenshots, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        c = Complyd(binary, data)
        try:
            c.user("admin@contoso.test", ADMIN_SCOPES)
            c.user("reader@contoso.test", READER_SCOPES)
            # The tenant: a frozen clock, a template, a user with an iPhone that passes for now.
            c.call("POST", "/complyd/v1/clock", {"setTo": "2031-03-01T09:00:00Z", "freeze": True})
            template = c.call("POST", "/beta/deviceManagement/notificationMessageTemplates", {
                "displayName": "Noncompliance",
                "localizedNotificationMessages": [{"locale": "en-us", "subject": "Fix {{DeviceName}}",
                                                   "messageTemplate": "Hello {{UserName}}", "isDefault": True}]})["id"]
            greta = c.call("POST", "/v1.0/users", {
                "accountEnabled": True, "displayName": "Greta", "mailNickname": "greta",
                "userPrincipalName": "greta@contoso.test",
                "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": False}})
            device = c.call("POST", "/beta/deviceManagement/managedDevices", {
                "deviceName": "IPHONE-1", "operatingSystem": "iOS", "osVersion": "17.4",
                "model": "iPhone 15", "manufacturer": "Apple", "userId": greta["id"],
                "userPrincipalName": "greta@contoso.test"})["id"]
            c.call("POST", f"/complyd/v1/devices/{device}/checkIn", {"passwordSet": True})
            policy_url = None
            s = Session(c, screenshots)
            try:
                policy_url = administrator(c, s, device, template)
            except Exception as e:  # the scenario stops; what it reached is counted
                check("the administrator's scenario runs to its end", False, f"{type(e).__name__}: {e}")
            finally:
                s.quit()
            s = Session(c, None)
            try:
                reader(c, s, device, policy_url or c.console + "/console/policies")
            except Exception as e:
                check("the reader's scenario runs to its end", False, f"{type(e).__name__}: {e}")
            finally:
                s.quit()
        finally:
            c.stop()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
