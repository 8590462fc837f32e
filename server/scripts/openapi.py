#!/usr/bin/env python3
"""Writes server/openapi.json: the API's description, kept equal to the routes by
server/tests/server/openapi.rs. Edit this script, run it, commit both."""
import json, os

ERR = {"$ref": "#/components/responses/Error"}
def op(summary, security, responses, params=None, body=None, tag=None, desc=None):
    o = {"summary": summary, "security": security, "responses": responses}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if body: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if tag: o["tags"] = [tag]
    return o
def ok(desc, schema=None, code="200"):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {"application/json": {"schema": schema}}
    return {code: r, "4XX": ERR, "5XX": ERR}
def q(name, desc, required=False, schema=None):
    return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema or {"type": "string"}}
def p(name, desc):
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": {"type": "string"}}
def h(name, desc, required=True):
    return {"name": name, "in": "header", "required": required, "description": desc, "schema": {"type": "string"}}
def key(scope): return [{"secretKey": [scope]}]
SESSION = [{"connectSession": []}]
ANY = [{"secretKey": []}, {"connectSession": []}]
OPEN = []
obj = {"type": "object"}
CONN_ID = h("Connection-Id", "The connection to use.")

paths = {
  "/health": {"get": op("Whether the server and its store answer", OPEN, ok("Healthy", obj), tag="operations")},
  "/metrics": {"get": op("Prometheus metrics: requests, proxy latency, refreshes, sync runs, outbox depth", key("admin"),
      {"200": {"description": "Prometheus' text format", "content": {"text/plain": {"schema": {"type": "string"}}}}, "4XX": ERR}, tag="operations")},
  "/openapi.json": {"get": op("This document", OPEN, ok("The OpenAPI document", obj), tag="operations")},
  "/connect/sessions": {"post": op("Create a connect session for an end user (30 minutes)", key("connections:write"),
      ok("The session token, shown once", {"$ref": "#/components/schemas/ConnectSession"}, "201"),
      body={"$ref": "#/components/schemas/NewConnectSession"}, tag="connect")},
  "/providers": {"get": op("The catalog's providers", ANY, ok("Providers", obj), [q("search", "Case-insensitive filter on key and display name")], tag="providers")},
  "/providers/{key}": {"get": op("A provider with its connection form", ANY, ok("The provider and its form", obj), [p("key", "The provider key")], tag="providers")},
  "/auth/{provider}": {"post": op("Connect a provider with params and credentials (end user)", SESSION,
      ok("Connected", {"$ref": "#/components/schemas/Connected"}, "201"), [p("provider", "The provider key")],
      {"$ref": "#/components/schemas/AuthBody"}, "connect",
      "Every problem of the params and credentials at once as 422 `invalid_params`, then the catalog's verification (422 `invalid_credentials`), then the connection is stored with the session's end user and tags.")},
  "/oauth/connect/{provider}": {"get": op("Start an OAuth flow in the end user's browser (redirects to the provider)", OPEN,
      {"303": {"description": "To the provider's authorization URL"}, "4XX": {"description": "A page that posts the error to its opener"}},
      [p("provider", "The provider key"), q("session_token", "The connect session token", True), q("connection_id", "The connection's id (new one if absent)"),
       q("origin", "The connect page's origin (one of the server's connect origins)"), q("params", "The connection config as a JSON object")], tag="connect")},
  "/oauth/start/{provider}": {"post": op("Start an OAuth flow from a page that holds the session (the connect page, the SDK)", SESSION,
      ok("The provider's authorization URL (no session token in it)", {"type": "object", "properties": {"data": {"type": "object", "properties": {"url": {"type": "string"}}}}}),
      [p("provider", "The provider key")],
      {"type": "object", "additionalProperties": False, "properties": {
        "connection_id": {"type": "string"}, "params": obj,
        "origin": {"type": "string", "description": "Where the callback page posts the result: the server's own origin or a connect origin"},
        "return_to": {"type": "string", "description": "A redirect instead of a popup: the callback answers 303 to this URL (of the server or a connect origin) with `#terapi_result=<base64url JSON>`"}}},
      "connect")},
  "/oauth/callback": {"get": op("The OAuth redirect URI: finishes the flow on any replica", OPEN,
      {"200": {"description": "A page that posts `{type: connect, provider_config_key, connection_id}` to its opener and closes"},
       "303": {"description": "With `return_to`: back to it, the result in the fragment"},
       "400": {"description": "A page that posts `{type: error, error}` to its opener"}}, tag="connect")},
  "/connect": {"get": op("The connect page: an end user picks a provider and connects it (credentials or OAuth)", OPEN,
      {"200": {"description": "HTML; CSP `script-src 'self'`, `frame-ancestors` the connect origins", "content": {"text/html": {"schema": {"type": "string"}}}}},
      [q("session_token", "The connect session (a connect link); the page removes it from its address"), q("lang", "`en` (default) or `de`"),
       q("origin", "The framing page's origin (one of the connect origins), to hear the page's events")], tag="connect")},
  "/connect/assets/connect.js": {"get": op("The connect page's script", OPEN, {"200": {"description": "JavaScript"}, "304": {"description": "Not modified (ETag)"}}, tag="connect")},
  "/connect/assets/connect.css": {"get": op("The connect page's style", OPEN, {"200": {"description": "CSS"}, "304": {"description": "Not modified (ETag)"}}, tag="connect")},
  "/connect/assets/callback.js": {"get": op("The OAuth callback page's script", OPEN, {"200": {"description": "JavaScript"}, "304": {"description": "Not modified (ETag)"}}, tag="connect")},
  "/sdk.js": {"get": op("The frontend SDK as a classic script (`window.Terapi`)", OPEN, {"200": {"description": "JavaScript"}, "304": {"description": "Not modified (ETag)"}}, tag="connect")},
  "/sdk.mjs": {"get": op("The frontend SDK as an ES module (`import Terapi from`)", OPEN, {"200": {"description": "JavaScript"}, "304": {"description": "Not modified (ETag)"}}, tag="connect")},
  "/connections": {
    "get": op("List connections", key("connections:read"), ok("A page of connections", obj),
      [q("end_user_id", "Only this end user's"), q("provider", "Only this provider's"), q("tag", "Only those with this tag, `key:value`"),
       q("cursor", "Where the previous page ended"), q("limit", "At most this many (1 to 1000)", schema={"type": "integer"})], tag="connections"),
    "post": op("Import a connection (existing credentials or tokens)", key("connections:write"), ok("Imported", obj, "201"), body=obj, tag="connections")},
  "/connections/{id}": {
    "get": op("A connection, without secrets; with `include_credentials=true` (and credentials:read) a fresh access token", key("connections:read"), ok("The connection", obj),
      [p("id", "The connection id"), q("include_credentials", "Include the credentials and a fresh access token", schema={"type": "boolean"}),
       q("force_refresh", "Renew the access token now", schema={"type": "boolean"}), q("include_refresh_token", "Include the refresh token", schema={"type": "boolean"})], tag="connections"),
    "patch": op("Change a connection's metadata, tags or end user", key("connections:write"), ok("Changed", obj), [p("id", "The connection id")], obj, "connections"),
    "delete": op("Delete a connection", key("connections:write"), {"204": {"description": "Deleted"}, "4XX": ERR, "5XX": ERR}, [p("id", "The connection id")], tag="connections")},
  "/proxy/{path}": {m: op("Send a request to the provider through the connection", key("proxy"),
      {"default": {"description": "The provider's status, headers and body (bounded)"}, "4XX": ERR, "5XX": ERR},
      [p("path", "The path relative to the provider's base URL"), CONN_ID, h("Provider-Config-Key", "The connection's provider, checked", False),
       h("Retries", "At most this many retries (lowers the catalog's)", False)], tag="proxy") for m in ["get", "post", "put", "patch", "delete"]},
  "/sync/trigger": {"post": op("Start syncs of a connection", key("sync"),
      ok("Started (or already running)", {"$ref": "#/components/schemas/SyncTriggered"}, "202"), body={"$ref": "#/components/schemas/SyncTrigger"}, tag="sync",
      desc="Each name must be a declared sync of the connection's provider (422 `invalid_syncs` names every unknown one). The runs start in the background; a run already in progress is reported `already_running`. `full: true` lists everything and marks what it did not see as deleted; otherwise incremental (full when the model never completed a run).")},
  "/sync/status": {"get": op("The state of a connection's syncs", key("sync"), ok("Status per sync", {"$ref": "#/components/schemas/SyncStatus"}),
      [q("connection_id", "The connection", True), q("syncs", "Comma-separated sync names (all when absent)")], tag="sync",
      desc="From the store (any replica answers the same), but `latest_result`: the counts of the last run this replica ran. `status`: RUNNING, ERROR (`error` says why), SUCCESS or PENDING (never run). `cursor`: the records cursor after the last change.")},
  "/records": {"get": op("Synced records with their metadata, after a cursor", key("records"), ok("A page of records and the next cursor", {"$ref": "#/components/schemas/Records"}),
      [CONN_ID, h("Provider-Config-Key", "The connection's provider, checked", False),
       q("model", "A declared sync's name (`employees`) or its output model (`EmployeeRecord`); 404 `unknown_model` otherwise", True),
       q("cursor", "Opaque: a record's `_terapi_metadata.cursor`, a page's `next_cursor` or the sync status's `cursor` (400 `invalid_cursor` otherwise)"),
       q("modified_after", "RFC 3339: only records changed at or after it", schema={"type": "string", "format": "date-time"}),
       q("limit", "At most this many (1 to 1000, 100 by default)", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
       q("filter", "Comma-separated kinds of change: added, updated, deleted")], tag="records",
      desc="Each record once, in its latest state, in the order of its last change; `last_action` is relative to the read's first cursor. A deleted record is its `id` and metadata. `next_cursor` is null when nothing more is there now.")},
  "/action/{name}": {"post": op("Run a declared action with its input", key("actions"), ok("The action's output", {"type": "object", "properties": {"data": {}}}),
      [p("name", "The action"), CONN_ID, h("Provider-Config-Key", "The connection's provider, checked", False)], obj, "actions",
      "The body is the action's input (up to 25 MiB; empty is `{}`). 422 `invalid_input` names every problem (`section: input`, `param`: the field's path) and nothing is sent; 404 `unknown_action`; the provider's error status is answered 502 `provider_error` with `status`, `message` and `body` (the connection's secrets masked); 502 `provider_unreachable`, 504 `provider_timeout`, 424 `reauthorization_required`, 502 `invalid_provider_response`.")},
  "/webhooks/personio-v2": {"post": op("Personio's webhook deliveries for personio-v2 connections", OPEN,
      {"202": {"description": "Stored (applied in the background)"}, "200": {"description": "A redelivery, or a ping"},
       "401": {"description": "No or unknown subscription token"}, "410": {"description": "The subscription's connection was removed"},
       "413": {"description": "Over 64 KiB"}, "422": {"description": "Not a Personio envelope"}, "429": {"description": "Over the subscription's rate"},
       "503": {"description": "The store is not available (Personio retries)"}}, tag="webhooks",
      desc="Authenticated by the subscription's token in `Authorization` (what `terapi webhooks subscribe` registered), not by a key. Subscribe with `{public_url}/webhooks/personio-v2`.")},
}

doc = {
  "openapi": "3.1.0",
  "info": {"title": "terapi", "version": "0.1.0",
           "description": "terapi's HTTP API (`terapi serve`). Keys: `Authorization: Bearer <secret key>`; end-user routes take a connect session token the same way. Errors: `{\"error\": {\"code\", \"message\", \"fields\"?}}`."},
  "paths": dict(sorted(paths.items())),
  "components": {
    "securitySchemes": {
      "secretKey": {"type": "http", "scheme": "bearer", "description": "A secret key (`terapi keys create --scopes …`); its scopes are the requirement's list."},
      "connectSession": {"type": "http", "scheme": "bearer", "description": "A connect session token (`POST /connect/sessions`)."}},
    "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
          "code": {"type": "string"}, "message": {"type": "string"},
          "fields": {"type": "array", "items": {"type": "object", "properties": {"section": {"type": "string"}, "param": {"type": "string"}, "message": {"type": "string"}}}}}}}},
      "NewConnectSession": {"type": "object", "required": ["end_user"], "properties": {
          "end_user": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "display_name": {"type": "string"}}},
          "allowed_integrations": {"type": "array", "items": {"type": "string"}},
          "tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
      "ConnectSession": {"type": "object", "properties": {"data": {"type": "object", "properties": {
          "token": {"type": "string"}, "connect_link": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}}}}},
      "AuthBody": {"type": "object", "properties": {"connection_id": {"type": "string"},
          "params": {"type": "object", "additionalProperties": {"type": "string"}}, "credentials": {"type": "object", "additionalProperties": {"type": "string"}}}},
      "Connected": {"type": "object", "properties": {"data": {"type": "object", "properties": {
          "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"}}}}},
      "SyncTrigger": {"type": "object", "required": ["connection_id", "syncs"], "properties": {
          "connection_id": {"type": "string"}, "syncs": {"type": "array", "items": {"type": "string"}}, "full": {"type": "boolean"}}},
      "SyncTriggered": {"type": "object", "properties": {"data": {"type": "object", "properties": {
          "connection_id": {"type": "string"}, "full": {"type": "boolean"},
          "syncs": {"type": "array", "items": {"type": "object", "properties": {
              "name": {"type": "string"}, "status": {"type": "string", "enum": ["started", "already_running"]}}}}}}}},
      "SyncStatus": {"type": "object", "properties": {"syncs": {"type": "array", "items": {"type": "object", "properties": {
          "name": {"type": "string"}, "model": {"type": "string"},
          "status": {"type": "string", "enum": ["RUNNING", "SUCCESS", "ERROR", "PENDING"]},
          "last_run_at": {"type": ["string", "null"], "format": "date-time"}, "next_run_at": {"type": ["string", "null"], "format": "date-time"},
          "frequency_seconds": {"type": ["integer", "null"]},
          "latest_result": {"type": ["object", "null"], "properties": {"added": {"type": "integer"}, "updated": {"type": "integer"}, "deleted": {"type": "integer"}}},
          "error": {"type": ["string", "null"]}, "cursor": {"type": "string"}, "held_deletions": {"type": "integer"}}}}}},
      "Records": {"type": "object", "required": ["records", "next_cursor"], "properties": {
          "records": {"type": "array", "items": {"type": "object", "required": ["id", "_terapi_metadata"], "properties": {
              "id": {}, "_terapi_metadata": {"type": "object", "properties": {
                  "first_seen_at": {"type": "string", "format": "date-time"}, "last_modified_at": {"type": "string", "format": "date-time"},
                  "last_action": {"type": "string", "enum": ["ADDED", "UPDATED", "DELETED"]},
                  "deleted_at": {"type": ["string", "null"], "format": "date-time"}, "cursor": {"type": "string"}}}},
              "additionalProperties": True}},
          "next_cursor": {"type": ["string", "null"]}}},
    }},
}
out = os.path.join(os.path.dirname(__file__), "..", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=2, ensure_ascii=True)
    f.write("\n")
