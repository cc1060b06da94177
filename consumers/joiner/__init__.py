"""The stream joiner: decisions + rewards → experiences, exactly one effect per decision."""
