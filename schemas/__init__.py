"""The event contract: Avro schemas (v1/*.avsc), typed records and the single-object codec."""
