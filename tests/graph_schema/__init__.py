"""Microsoft's published Graph v1.0 metadata as the referee of syncd's event bodies.

- extract.py: cuts the event types out of msgraph-metadata's cleanMetadata.xml into
  tests/data/graph-v1.0-event-schema.xml (elements copied verbatim);
- validator.py: checks a JSON body against that CSDL subset (pure);
- plugin.py: checks every Graph exchange of every in-process sandbox in the test run.
"""
