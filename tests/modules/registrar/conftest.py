from tests.db.fixtures import db_url  # noqa: F401
