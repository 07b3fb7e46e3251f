"""FastAPI app for uvicorn: one endpoint per outcome, a path parameter, a streamed
response. Logs nothing itself: the tests count what the client got."""
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/ok")
def ok():
    return {"ok": True}


@app.get("/items/{item_id}")
def item(item_id: int):
    return {"id": item_id}


@app.get("/missing")
def missing():
    raise HTTPException(status_code=404)


@app.get("/boom")
def boom():
    raise RuntimeError("boom: the 500 endpoint")


@app.get("/stream")
def stream():
    return StreamingResponse(iter([b"one\n", b"two\n", b"three\n"]), media_type="text/plain")
