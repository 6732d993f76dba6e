"""Post each stack's diff as one merge-request note, updated in place on every push (found by its marker)."""
import json
import os
import pathlib
import sys
import urllib.parse
import urllib.request

diffs = sorted(pathlib.Path(os.environ["MBOPS_OUT"]).glob("*.md"))
for path in diffs:
    print(path.read_text())
token = os.environ.get("MBOPS_GITLAB_TOKEN")
if not token:
    print("mbops: MBOPS_GITLAB_TOKEN is not set: the diff is in this log and the job's artifacts, not a note")
    sys.exit(0)
api = f"{os.environ['CI_API_V4_URL']}/projects/{os.environ['CI_PROJECT_ID']}"
notes_url = f"{api}/merge_requests/{os.environ['CI_MERGE_REQUEST_IID']}/notes"


def call(method, url, data=None):
    body = urllib.parse.urlencode(data).encode() if data else None
    request = urllib.request.Request(url, data=body, method=method, headers={"PRIVATE-TOKEN": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


me = call("GET", f"{os.environ['CI_API_V4_URL']}/user")["id"]
notes, page = [], 1
while True:
    batch = call("GET", f"{notes_url}?per_page=100&page={page}")
    notes += batch
    if len(batch) < 100:
        break
    page += 1
for path in diffs:
    body = path.read_text()
    marker = body.split("\n", 1)[0]
    mine = next((n for n in notes if n["author"]["id"] == me and n["body"].startswith(marker)), None)
    if mine:
        call("PUT", f"{notes_url}/{mine['id']}", {"body": body})
    else:
        call("POST", notes_url, {"body": body})
