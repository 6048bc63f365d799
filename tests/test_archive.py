"""The training archive (培训档案): JSON, CSV for Excel, and XLSX."""

import io
from urllib.parse import unquote

import httpx
from openpyxl import load_workbook

from tests.factories import API, create_cadre, create_log, create_org_unit, create_session


async def test_archive_in_three_formats(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], name='=HYPERLINK("http://x")')
    await create_log(
        client,
        cadre["id"],
        title="+SUM(A1:A9)",
        status="approved",
        start_date="2024-03-01",
        end_date="2024-03-01",
    )
    await create_log(
        client,
        cadre["id"],
        title="学习贯彻党的二十大精神",
        start_date="2023-05-01",
        end_date="2023-05-02",
    )
    ts = await create_session(client, unit["id"], title="-1+1 专题班")
    await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    url = f"{API}/cadres/{cadre['id']}/archive"

    archive = (await client.get(url)).json()
    assert [log["start_date"] for log in archive["study_logs"]] == ["2023-05-01", "2024-03-01"]
    assert archive["enrollments"][0]["training_session"]["title"] == "-1+1 专题班"

    r = await client.get(url, params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    disposition = r.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("培训档案-")
    text = r.content.decode("utf-8-sig")
    rows = text.splitlines()
    assert rows[0].startswith("hr_id,name,start_date,end_date,kind,title")
    assert "'+SUM(A1:A9)" in rows[2]  # a formula in a cell is defused
    assert ',"\'=HYPERLINK(""http://x"")",' in rows[1]
    assert "学习贯彻党的二十大精神" in rows[1]

    r = await client.get(url, params={"format": "xlsx"})
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["study_logs", "enrollments", "assessments"]
    sheet_rows = [list(row) for row in book["study_logs"].iter_rows(values_only=True)]
    import csv

    csv_rows = list(csv.reader(text.splitlines()))
    assert [list(map(str, row[:6])) for row in sheet_rows] == [row[:6] for row in csv_rows]
    assert sheet_rows[1][1] == '\'=HYPERLINK("http://x")'
    enrollment_rows = list(book["enrollments"].iter_rows(values_only=True))
    assert enrollment_rows[1][0] == "'-1+1 专题班"
