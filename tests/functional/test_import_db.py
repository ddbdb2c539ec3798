"""``mlvc import-db`` / ``test-db`` (as DVC's): a table's or a query's rows snapshotted into a
tracked CSV or JSON file, through a SQLAlchemy connection of the config (SQLite here)."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from tests.conftest import Project, new_project

pytest.importorskip("sqlalchemy")


@pytest.fixture
def shop(tmp_path):
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as c:
        c.execute("create table sales (id integer, item text, price real, day date)")
        c.executemany("insert into sales values (?, ?, ?, ?)", [
            (1, "apple", 1.5, "2024-01-01"), (2, "pear", None, "2024-01-02"),
            (3, 'a,b "q"', 2.0, None)])
    c.close()
    return db


@pytest.fixture
def here(tmp_path, shop) -> Project:
    p = new_project(tmp_path / "here")
    p.run("config", "db.shop.url", f"sqlite:///{shop}")
    return p


def test_a_table_and_a_query_are_snapshotted_tracked_and_updated(here, shop):
    r = here.run("import-db", "--table", "sales", "--conn", "shop")
    assert "Saved 3 rows of 4 columns" in r.stdout
    assert here.read("sales.csv") == ('id,item,price,day\n1,apple,1.5,2024-01-01\n'
                                      '2,pear,,2024-01-02\n3,"a,b ""q""",2.0,\n')
    pointer = yaml.safe_load(here.read("sales.csv.mlvc"))
    assert pointer["import_db"] == {"connection": "shop", "table": "sales",
                                    "file_format": "csv"}  # (no URL, no password)
    assert "/sales.csv" in here.read(".gitignore")
    doc = json.loads(here.run("import-db", "--sql", "select item, price from sales where "
                              "price > 1", "--conn", "shop", "--output-format", "json",
                              "-o", "q.json", "--json").stdout)
    assert doc["rows"] == 2 and doc["columns"] == ["item", "price"]
    assert json.loads(here.read("q.json")) == [{"item": "apple", "price": 1.5},
                                               {"item": 'a,b "q"', "price": 2.0}]
    assert here.run("status", "-q").exit_code == 0
    here.commit_all("snapshots")

    r = here.run("update")  # (a database cannot say: the snapshot is taken again)
    assert "sales.csv: up to date with table sales of database 'shop'" in r.stdout
    with sqlite3.connect(shop) as c:
        c.execute("insert into sales values (4, 'kiwi', 3.25, '2024-02-01')")
    c.close()
    (here.root / "sales.csv").chmod(0o644)
    (here.root / "sales.csv").write_text("mine\n")
    r = here.run("update", "sales.csv", code=1)  # (your change would be overwritten)
    assert "changes of yours" in r.stderr and here.read("sales.csv") == "mine\n"
    r = here.run("update", "--force")
    assert "q.json: the query of database 'shop'" in r.stdout
    assert here.read("sales.csv").endswith("4,kiwi,3.25,2024-02-01\n")
    assert len(json.loads(here.read("q.json"))) == 3
    assert here.run("status", "-q").exit_code == 0
    r = here.run("import-db", "--table", "sales", "--conn", "shop", code=1)
    assert "'sales.csv' exists already" in r.stderr


def test_a_clone_pulls_the_snapshot_from_the_remote_not_the_database(here, shop, tmp_path):
    here.run("import-db", "--table", "sales", "--conn", "shop")
    here.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    here.run("push")
    here.commit_all("snapshot")
    shop.unlink()  # (gone: status and pull never ask it)
    assert here.run("status", "-q").exit_code == 0
    clone = tmp_path / "clone"
    here.git("clone", "-q", str(here.root), str(clone))
    Project(clone).run("pull")
    assert (clone / "sales.csv").read_text().startswith("id,item,price,day\n1,apple")


def test_connections_and_failures_are_told_clearly(here, shop, tmp_path):
    r = here.run("test-db", "--conn", "shop")
    assert "the connection works" in r.stdout
    here.run("config", "db.pg.url", "postgresql://db.example/x")
    here.run("config", "db.pg.password", "s3cret")  # (a secret: the local file)
    assert "s3cret" in (here.root / ".mlvc/config.local.yaml").read_text()
    assert "s3cret" not in (here.root / ".mlvc/config.yaml").read_text()
    here.run("config", "db.pg2.url", "postgresql://me:pw2@db.example/x")  # (a password in it)
    assert "pw2" in (here.root / ".mlvc/config.local.yaml").read_text()
    assert "pw2" not in (here.root / ".mlvc/config.yaml").read_text()
    assert "postgresql://me:***@db.example/x" in here.run("config", "--list").stdout
    # (SQLite takes no password: said as the connection's error, the password hidden)
    here.run("config", "db.shop.password", "s3cret")
    r = here.run("test-db", "--conn", "shop", code=1)
    assert "database connection 'shop'" in r.stderr and "s3cret" not in r.stderr
    here.run("config", "--unset", "db.shop.password")
    r = here.run("config", "db.shop.port", "5", code=1)
    assert "url, username, password" in r.stderr

    before = sorted(p.name for p in here.root.iterdir())
    r = here.run("import-db", "--table", "sales", "--conn", "nope", code=1)
    assert "no database connection named 'nope'" in r.stderr
    assert "mlvc config db.nope.url" in r.stderr
    r = here.run("import-db", "--sql", "select * from missing", "--conn", "shop", code=1)
    assert "database 'shop'" in r.stderr and "no such table" in r.stderr
    assert "Traceback" not in r.stderr
    r = here.run("import-db", "--sql", "select 1", "--table", "sales", "--conn", "shop",
                 code=2)
    assert "one of them" in r.stderr
    here.run("config", "db.bad.url", "nodriver://host/x")
    r = here.run("import-db", "--table", "t", "--conn", "bad", code=1)
    assert "driver" in r.stderr
    assert sorted(p.name for p in here.root.iterdir()) == before  # (nothing written)
    r = here.run("test-db", "--conn", "x", "--url", f"sqlite:///{tmp_path}/no/such/dir.db",
                 code=1)
    assert "mlvc test-db --conn x" in r.stderr


def test_migrate_dvc_keeps_an_import_db_and_its_connection(tmp_path, shop):
    p = new_project(tmp_path / "dvcproj")
    dvc_file = yaml.safe_dump({"frozen": True, "deps": [{"db": {
        "connection": "shop", "table": "sales", "file_format": "csv"}}],
        "outs": [{"path": "sales.csv", "hash": "md5"}]})
    p.gen({".dvc": {"config": f'[db "shop"]\n    url = sqlite:///{shop}\n'
                              '    password = pw\n'},
           "sales.csv.dvc": dvc_file, "sales.csv": "old\n",
           "again.csv.dvc": dvc_file.replace("sales.csv", "again.csv")})  # (not pulled)
    p.run("migrate-dvc")
    assert "oid" not in yaml.safe_load(p.read("again.csv.mlvc"))["outs"][0]  # (pending)
    assert yaml.safe_load(p.read("sales.csv.mlvc"))["import_db"]["table"] == "sales"
    assert "pw" in (p.root / ".mlvc/config.local.yaml").read_text()
    assert "pw" not in (p.root / ".mlvc/config.yaml").read_text()
    p.run("config", "--unset", "db.shop.password")
    p.run("update", "--force", "sales.csv")
    assert p.read("sales.csv").startswith("id,item,price,day\n")
    assert "not downloaded" in p.run("status").stdout
    p.run("pull", "again.csv")  # (its snapshot taken now: nothing was recorded of it)
    assert p.read("again.csv") == p.read("sales.csv")
