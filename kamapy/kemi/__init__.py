"""KEMI: routing by a Python script with Kamailio's KSR API (cfgengine "python").

- engine.py: the script's loading, reload, and the Routes whose callables hand each
  message to the script object (ksr_request_route ...);
- ksr.py: the KSR object (`import KSR`), built from the loaded modules' exports;
- kemi_exports.py: Kamailio 5.6's KEMI names and parameter types, the reference.

modules/app_python3 (and its app_python alias) is the module a config loads for it.
"""
