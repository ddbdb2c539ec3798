"""Database commands: import-db and test-db (as DVC's)."""

from __future__ import annotations

import click

from mlvc.cli.render import echo, echo_json, human_size, json_option, open_repo, progress, settings


@click.command("import-db")
@click.option("--sql", "query", metavar="SQL", help="The query whose rows to snapshot.")
@click.option("--table", metavar="TABLE", help="The table to snapshot whole (SCHEMA.TABLE "
                                               "names one of another schema).")
@click.option("--conn", "connection", required=True, metavar="NAME",
              help="The connection: db.NAME.url (and username, password) in the config.")
@click.option("--output-format", "file_format", type=click.Choice(["csv", "json"]),
              default="csv", show_default=True, help="How the rows are written.")
@click.option("-o", "--out", metavar="OUT",
              help="Where to write them (default: TABLE.csv, or results.csv for a query; "
                   ".json for JSON).")
@click.option("-f", "--force", is_flag=True,
              help="Replace OUT and its pointer file if they exist.")
@json_option
def import_db_cmd(query, table, connection, file_format, out, force, as_json):
    """Snapshot a table or a query's rows into a CSV or JSON file, tracked with where it
    came from (as `dvc import-db`); `mlvc update OUT` takes the snapshot again.

    \b
    The connection is in the config, as DVC's:
      mlvc config db.NAME.url postgresql://host/dbname    (a SQLAlchemy URL)
      mlvc config db.NAME.username me
      mlvc config db.NAME.password …    (a secret: written in the local config)
    SQLAlchemy comes with `pip install 'mlvc[db]'`, and each database needs its driver
    (psycopg2, pymysql…; SQLite needs none). The pointer file records NAME, the query or
    table and the format: never the URL or the password. OUT is then tracked data like any
    other (`status`, `push`, `pull` from the remote).
    """
    from mlvc.ops.import_db import import_db

    if (query is None) == (table is None):
        raise click.UsageError("give --sql or --table (one of them)")
    with open_repo() as repo:
        result, snap = import_db(repo, connection, query=query, table=table,
                                 file_format=file_format, out=out, cwd=settings().cwd,
                                 force=force, progress=progress())
    if as_json:
        echo_json({**result.to_json(), "rows": snap.rows, "columns": list(snap.columns)})
        return
    from mlvc.cli.commands.remote import report_imports

    assert result.out is not None
    echo(f"Saved {snap.rows} row{'' if snap.rows == 1 else 's'} of {len(snap.columns)} "
         f"column{'' if len(snap.columns) == 1 else 's'} ({human_size(result.out.size)}).")
    report_imports([result], repo.root)


@click.command("test-db")
@click.option("--conn", "connection", required=True, metavar="NAME",
              help="The connection: db.NAME.… in the config.")
@click.option("--url", metavar="URL", help="Its URL, over the config's (a SQLAlchemy URL).")
@click.option("--username", metavar="USER", help="Its user, over the config's.")
@click.option("--password", metavar="PASSWORD", help="Its password, over the config's.")
def test_db_cmd(connection, url, username, password):
    """Check that a database connection works (as `dvc test-db`): connect, and run
    `select 1`. Works outside a project with --url, or a connection of the user's config."""
    from mlvc.ops.import_db import check_connection
    from mlvc.ops.import_url import project_at

    with project_at(settings().cwd) as repo:  # (None outside a project)
        shown = check_connection(repo, connection, url=url, username=username,
                                 password=password)
    echo(f"Connected to {shown}: the connection works.")
