"""The benchmark's smoke test: marked ``bench`` so it can be selected or left out."""


def pytest_configure(config):
    config.addinivalue_line("markers", "bench: the benchmark harness's smoke run (python -m bench)")
