"""Test-wide settings: every notebook executed by nbval runs in quick mode, offline."""

import os

os.environ["KERAS_GENAI_QUICK"] = "1"
os.environ["KERAS_GENAI_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
