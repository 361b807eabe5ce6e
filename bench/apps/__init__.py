"""Reference apps for bench/cpu_per_request.py, served with the portal's gunicorn settings."""
