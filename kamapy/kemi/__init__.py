"""KEMI: routing by a Python script with Kamailio's KSR API (cfgengine "python").

- engine.py: the script's loading, reload, and the Routes whose callables hand each
  message to the script object (ksr_request_route ...);
- ksr.py: the KSR object (`import KSR`), built from the loaded modules' exports;
- kemi_exports.py: Kamailio 5.6's KEMI names and parameter types, the reference;
- events.py: the modules' event_callback parameters (routes.event of a KEMI config).

modules/app_python3 (and its app_python alias) is the module a config loads for it.

As Kamailio 5.6: the engine is named "python" (app_python3 registers no "python3"),
RPC app_python.reload (no app_python3.* names), the callbacks' return values are not
used (-255 is the scripts' own convention), a missing callback is a no-op. Not built
yet: kemi.event_route_callback, the event_callback of modules whose events kamapy does
not run (events.py lists them), and the legacy message object (the script's `msg`
argument is kamapy's SipMsg; use KSR for it).
"""
