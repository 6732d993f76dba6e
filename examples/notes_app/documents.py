"""Notes in a cloud's serverless document database (the saas profile): DynamoDB, Firestore or Cosmos DB.

Each store has the methods of :class:`.db.Database` and imports its SDK when it is made (the local target never
pays for them). Ids come from :func:`new_note_id`, not from a counter: a counter is one hot item that every
insert must update (Firestore sustains about one write per second on a document), while a time-based id needs
one conditional write per note, and sorting by id is sorting by creation time. All notes share one partition
(DynamoDB ``pk = "note"``, Cosmos ``/pk = "note"``) so that "newest first" is one ordered, bounded read; a
Cosmos logical partition holds 20 GB (about 50 000 notes of the largest size), and a real app would
partition by owner. Every SDK error becomes :class:`.db.DatabaseUnavailable` (a 503).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from .config import DocumentStore
from .db import DatabaseUnavailable
from .errors import one_line

PARTITION = "note"
ID_DIGITS = 16  # ids stay below 2**53, so JSON clients that read numbers as doubles (JavaScript) keep them exact
INSERT_ATTEMPTS = 5


class NoteStore(Protocol):
    """What the endpoints use to keep notes (SQL or document store)."""

    kind: str

    def prepare(self) -> None: ...
    def ping(self) -> bool: ...
    def insert_note(self, title: str, body: str) -> dict[str, Any]: ...
    def list_notes(self, limit: int) -> list[dict[str, Any]]: ...
    def get_note(self, note_id: int) -> dict[str, Any] | None: ...
    def delete_note(self, note_id: int) -> bool: ...
    def close(self) -> None: ...


_last_id = 0
_id_lock = threading.Lock()


def new_note_id() -> int:
    """Milliseconds since 1970 times 1000 plus a random 0-999, above any id this process drew before: ordered
    by creation time (strictly, within one process), unique once a conditional write has taken it."""
    global _last_id
    with _id_lock:
        _last_id = max(time.time_ns() // 1_000_000 * 1000 + secrets.randbelow(1000), _last_id + 1)
        return _last_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _note(note_id: int, title: str, body: str, created_at: str) -> dict[str, Any]:
    return {"id": note_id, "title": title, "body": body, "created_at": created_at}


class _Store:
    """Error mapping and the insert-with-a-fresh-id loop the three stores share."""

    kind = "documents"
    where = ""
    _errors: tuple[type[BaseException], ...] = ()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise DatabaseUnavailable(f"{self.kind} {self.where}: {one_line(exc)}") from exc

    def _insert(self, create: Callable[[dict[str, Any]], bool], title: str, body: str) -> dict[str, Any]:
        """Create a note with a new id; ``create`` returns False when that id exists (then another is drawn)."""
        for _ in range(INSERT_ATTEMPTS):
            note = _note(new_note_id(), title, body, _now())
            with self._guard():
                if create(note):
                    return note
        raise DatabaseUnavailable(f"{self.kind} {self.where}: no free note id after {INSERT_ATTEMPTS} attempts")

    def ping(self) -> bool:
        """True when the store answers a read."""
        try:
            self.prepare()
        except DatabaseUnavailable:
            return False
        return True

    def prepare(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release (the SDKs' connection pools go with the process)."""


class DynamoNotes(_Store):
    """Notes as items ``pk="note"``, ``sk=<16-digit id>`` of the stack's DynamoDB table (keys ``pk``, ``sk``:
    strings). Reads are strongly consistent: a note just written is listed."""

    kind = "dynamodb"

    def __init__(self, store: DocumentStore) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from . import aws

        self.table = self.where = store.table
        self._client = aws.client("dynamodb")
        self._client_error = ClientError
        self._errors = (BotoCoreError, ClientError)

    @staticmethod
    def _key(note_id: int) -> dict[str, Any]:
        return {"pk": {"S": PARTITION}, "sk": {"S": f"{note_id:0{ID_DIGITS}d}"}}

    @staticmethod
    def _from_item(item: dict[str, Any]) -> dict[str, Any]:
        return _note(int(item["id"]["N"]), item["title"]["S"], item["body"]["S"], item["created_at"]["S"])

    def prepare(self) -> None:
        """Check that the table exists with the keys the app writes (``pk`` and ``sk``)."""
        with self._guard():
            table = self._client.describe_table(TableName=self.table)["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        if keys != {"HASH": "pk", "RANGE": "sk"}:
            raise DatabaseUnavailable(f"table {self.table} has keys {keys}; the app needs HASH pk and RANGE sk")

    def ping(self) -> bool:
        """True when the table answers a (one-item) read."""
        try:
            with self._guard():
                self._client.get_item(TableName=self.table, Key=self._key(0))
        except DatabaseUnavailable:
            return False
        return True

    def insert_note(self, title: str, body: str) -> dict[str, Any]:
        """Insert a note and return it as stored."""

        def create(note: dict[str, Any]) -> bool:
            item = {
                **self._key(note["id"]),
                "id": {"N": str(note["id"])},
                "title": {"S": title},
                "body": {"S": body},
                "created_at": {"S": note["created_at"]},
            }
            try:
                self._client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            except self._client_error as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return False
                raise
            return True

        return self._insert(create, title, body)

    def list_notes(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` notes, newest first."""
        with self._guard():
            found = self._client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": PARTITION}},
                ScanIndexForward=False,
                Limit=limit,
                ConsistentRead=True,
            )
        return [self._from_item(item) for item in found.get("Items", [])]

    def get_note(self, note_id: int) -> dict[str, Any] | None:
        """Return one note, or None when it does not exist."""
        with self._guard():
            item = self._client.get_item(TableName=self.table, Key=self._key(note_id), ConsistentRead=True)
        return self._from_item(item["Item"]) if "Item" in item else None

    def delete_note(self, note_id: int) -> bool:
        """Delete one note; return False when it did not exist."""
        with self._guard():
            gone = self._client.delete_item(TableName=self.table, Key=self._key(note_id), ReturnValues="ALL_OLD")
        return "Attributes" in gone


class FirestoreNotes(_Store):
    """Notes as documents ``notes/<id>`` of the stack's Firestore database (Native mode), through ADC.

    No Firestore emulator can be installed on the project's machines (it ships with the gcloud CLI and needs
    Java): the tests run this against a fake of the gRPC service (tests/test_example_app_cloud.py) through the
    library's emulator switch, which skips the ADC sign-in. The calls are the library's documented ones, few.
    """

    kind = "firestore"

    def __init__(self, store: DocumentStore) -> None:
        import google.auth.exceptions
        from google.api_core import exceptions
        from google.cloud import firestore

        self.where = f"database {store.table}"
        project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        self._client = firestore.Client(project=project, database=store.table)
        self._notes = self._client.collection("notes")
        self._descending = firestore.Query.DESCENDING
        self._exists = exceptions.AlreadyExists
        self._not_found = exceptions.NotFound
        self._errors = (exceptions.GoogleAPIError, google.auth.exceptions.GoogleAuthError)

    @staticmethod
    def _from_snapshot(snapshot: Any) -> dict[str, Any]:
        data = snapshot.to_dict()
        return _note(int(data["id"]), data["title"], data["body"], data["created_at"])

    def prepare(self) -> None:
        """Check that the database answers a read (and that the app may read it)."""
        with self._guard():
            self._notes.document("0").get(timeout=10)

    def insert_note(self, title: str, body: str) -> dict[str, Any]:
        """Insert a note and return it as stored."""

        def create(note: dict[str, Any]) -> bool:
            try:
                self._notes.document(str(note["id"])).create(note)
            except self._exists:
                return False
            return True

        return self._insert(create, title, body)

    def list_notes(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` notes, newest first."""
        with self._guard():
            query = self._notes.order_by("id", direction=self._descending).limit(limit)
            return [self._from_snapshot(snapshot) for snapshot in query.stream()]

    def get_note(self, note_id: int) -> dict[str, Any] | None:
        """Return one note, or None when it does not exist."""
        with self._guard():
            snapshot = self._notes.document(str(note_id)).get()
        return self._from_snapshot(snapshot) if snapshot.exists else None

    def delete_note(self, note_id: int) -> bool:
        """Delete one note; return False when it did not exist."""
        with self._guard():
            try:
                self._notes.document(str(note_id)).delete(option=self._client.write_option(exists=True))
            except self._not_found:
                return False
        return True


class CosmosNotes(_Store):
    """Notes as items ``{"id": "<id>", "pk": "note", "n": <id>, ...}`` of a Cosmos DB for NoSQL container,
    signed in with ``DefaultAzureCredential`` (the managed identity named by ``AZURE_CLIENT_ID``; the account
    has keys off).

    The Cosmos DB emulator is a container image the project's machines cannot pull (it has no other form for
    Linux): the tests run this against a fake of the gateway's REST calls (tests/test_example_app_cloud.py), with
    the managed-identity sign-in. The calls are the library's documented ones, few.
    """

    kind = "cosmos"
    QUERY = "SELECT TOP @limit * FROM c WHERE c.pk = @pk ORDER BY c.n DESC"

    def __init__(self, store: DocumentStore) -> None:
        from azure.core.exceptions import AzureError
        from azure.cosmos import CosmosClient, exceptions

        from .cloud_storage import azure_credential

        database, _, container = store.table.partition("/")
        self.where = f"container {store.table}"
        client = CosmosClient(store.endpoint or "", credential=azure_credential())
        self._container = client.get_database_client(database).get_container_client(container)
        self._exists = exceptions.CosmosResourceExistsError
        self._not_found = exceptions.CosmosResourceNotFoundError
        self._errors = (AzureError,)

    @staticmethod
    def _from_item(item: dict[str, Any]) -> dict[str, Any]:
        return _note(int(item["n"]), item["title"], item["body"], item["created_at"])

    def prepare(self) -> None:
        """Check that the container exists, partitioned on ``/pk``."""
        with self._guard():
            paths = self._container.read()["partitionKey"]["paths"]
        if paths != ["/pk"]:
            raise DatabaseUnavailable(f"container {self.where} is partitioned on {paths}; the app needs ['/pk']")

    def ping(self) -> bool:
        """True when the container answers a point read (a 404 for an id never used: about 1 RU, no metadata
        request on every health probe)."""
        try:
            with self._guard():
                self.get_note(0)
        except DatabaseUnavailable:
            return False
        return True

    def insert_note(self, title: str, body: str) -> dict[str, Any]:
        """Insert a note and return it as stored."""

        def create(note: dict[str, Any]) -> bool:
            item = {"id": str(note["id"]), "pk": PARTITION, "n": note["id"], "title": title, "body": body,
                    "created_at": note["created_at"]}  # fmt: skip
            try:
                self._container.create_item(item)
            except self._exists:
                return False
            return True

        return self._insert(create, title, body)

    def list_notes(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` notes, newest first."""
        parameters: list[dict[str, Any]] = [{"name": "@limit", "value": limit}, {"name": "@pk", "value": PARTITION}]
        with self._guard():
            items = self._container.query_items(self.QUERY, parameters=parameters, partition_key=PARTITION)
            return [self._from_item(item) for item in items]

    def get_note(self, note_id: int) -> dict[str, Any] | None:
        """Return one note, or None when it does not exist."""
        with self._guard():
            try:
                return self._from_item(self._container.read_item(str(note_id), partition_key=PARTITION))
            except self._not_found:
                return None

    def delete_note(self, note_id: int) -> bool:
        """Delete one note; return False when it did not exist."""
        with self._guard():
            try:
                self._container.delete_item(str(note_id), partition_key=PARTITION)
            except self._not_found:
                return False
        return True


def open_store(store: DocumentStore) -> NoteStore:
    """The document store ``store`` names (its SDK imported now)."""
    kinds: dict[str, Callable[[DocumentStore], NoteStore]] = {
        "dynamodb": DynamoNotes, "firestore": FirestoreNotes, "cosmos": CosmosNotes,
    }  # fmt: skip
    try:
        return kinds[store.kind](store)
    except ImportError:
        raise
    except Exception as exc:  # the SDK refused its settings (e.g. no credentials found): say so in one line
        raise DatabaseUnavailable(f"{store.kind} {store.table}: {one_line(exc)}") from exc
