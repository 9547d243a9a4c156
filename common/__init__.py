"""Code both services share: configuration, JWT verification, errors, logging, runtime glue."""
