# Copy to instance/config.py and uncomment what you need. Environment variables (OV_*) win.
# OV_DATABASE_URL and the like are read from the environment; here use the Flask keys:
#
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://ov@127.0.0.1:5432/ov"
# OV_REDIS_URL = "redis://127.0.0.1:6379/0"
# OV_MAIL_BACKEND = "smtp"
# MAIL_SERVER = "127.0.0.1"
# MAIL_PORT = 25
# OV_CAPTCHA_PROVIDER = "builtin"
# OV_PASSWORD_POLICY = "seed"
