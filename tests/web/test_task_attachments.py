"""Files added to a task outside its form (issue 12, gap 15): photos from site, a customer's letter — with the
same type and size checks as a form's upload, kept with the work order and on its timeline."""

from __future__ import annotations

import io

from flask import Flask

from engine.attachments.models import Attachment
from tests.conftest import Database
from tests.web.test_task_pages import (
    PDF,
    client_for,
    count,
    events,
    flashed,
    send,
    text,
    to_handle,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


def test_photos_and_a_letter_are_added_to_a_task_and_listed(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    page = text(client.get(f"/tasks/{handle}"))
    assert 'id="attach-form"' in page and 'name="files" multiple' in page
    accepted = web_app.extensions["eoms"]["engine"].attachments.accepted()
    assert f'accept="{",".join(accepted)}"' in page

    response = send(client, f"/tasks/{handle}/attachments",
                    {"files": [(io.BytesIO(JPEG), "现场1.jpg"), (io.BytesIO(PDF), "客户函件.pdf")]},
                    content_type="multipart/form-data")
    assert flashed(client, response) == ["已上传：现场1.jpg、客户函件.pdf"]
    with db.sessions() as s:
        names = sorted(a.filename for a in s.query(Attachment).filter_by(instance_id=instance_id, human_task_id=handle))
    assert names == ["客户函件.pdf", "现场1.jpg"]
    assert [e.payload["filename"] for e in events(db, instance_id, "attachment_added")] == ["现场1.jpg", "客户函件.pdf"]
    page = text(client.get(f"/tasks/{handle}"))
    assert "现场1.jpg" in page and "客户函件.pdf" in page


def test_a_wrong_file_is_refused_in_chinese_and_the_good_ones_before_it_are_kept(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    client = client_for(web_app, "gz_maintainer")
    response = send(client, f"/tasks/{handle}/attachments",
                    {"files": [(io.BytesIO(JPEG), "现场.jpg"), (io.BytesIO(b"MZ\x90\x00"), "工具.exe"),
                               (io.BytesIO(PDF), "函件.pdf")]},
                    content_type="multipart/form-data")
    messages = flashed(client, response)
    assert messages[0] == "已上传：现场.jpg"
    assert messages[1].startswith("附件未能上传：工具.exe，不接受此类型的文件（可接受：")
    assert count(db, Attachment, Attachment.instance_id == instance_id) == 1  # the one after the refusal waits

    empty = send(client, f"/tasks/{handle}/attachments", {"files": [(io.BytesIO(b""), "空.pdf")]},
                 content_type="multipart/form-data")
    assert flashed(client, empty) == ["附件未能上传：空.pdf，文件是空的"]
    nothing = send(client, f"/tasks/{handle}/attachments", {}, content_type="multipart/form-data")
    assert flashed(client, nothing) == ["请选择要上传的文件。"]
    assert count(db, Attachment, Attachment.instance_id == instance_id) == 1


def test_only_who_may_work_on_the_task_adds_files(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    outsider = client_for(web_app, "sz_maintainer")  # another unit's maintainer: the task is not his
    response = send(outsider, f"/tasks/{handle}/attachments", {"files": [(io.BytesIO(PDF), "x.pdf")]},
                    content_type="multipart/form-data")
    assert flashed(outsider, response) == ["记录不存在，或您无权查看。"]
    assert count(db, Attachment, Attachment.instance_id == instance_id) == 0
    anonymous = web_app.test_client()
    refused = anonymous.post(f"/tasks/{handle}/attachments")
    assert refused.status_code in (400, 401) or "/auth/login" in refused.headers.get("Location", "")
    supervisor = client_for(web_app, "sup").get(f"/tasks/{handle}")  # the unit's supervisor may act on it
    assert supervisor.status_code == 200 and 'id="attach-form"' in text(supervisor)
