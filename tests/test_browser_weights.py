"""Your own model on Explore in a real headless Chromium: a .safetensors file uploaded through the
sidebar's file input shows what it found and the gradient view of that model; a bad file gets a
message on the page, never a traceback. Screenshots go to artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
import torch
from browser_support import ARTIFACTS, IDLE, served_page
from safetensors.torch import save_file
from torch import nn

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
FOUND = "nn.GRU(input_size=4, hidden_size=7, num_layers=2) at 'encoder.rnn.', head 'fc' (1 outputs)"
# Per chart: its title and, per heatmap, its number of rows (units drawn)
CHARTS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const t = gd.layout && gd.layout.title;
  const title = (t && (t.text || t)) || '';
  return [String(title), (gd._fullData || []).filter(d => d.type === 'heatmap')
          .map(d => (d.z && d.z.length) || 0)];
})
"""


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.rnn = nn.GRU(4, 7, num_layers=2)
        self.fc = nn.Linear(7, 1)


def wait(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE)
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


@pytest.mark.parametrize("present", ["0", "1"])
def test_upload_a_model_and_see_its_gradient(tmp_path, present):
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in Model().state_dict().items()}, str(path))
    bad = tmp_path / "notes.pt"
    bad.write_bytes(b"these are my notes, not a model")
    with served_page(f"browser_weights_server_{present}.log", 1400) as (page, url):
        page.goto(f"{url}/?seq_len=40&view=gradient&present={present}")
        wait(page)
        if present == "1":  # presentation mode starts with the sidebar collapsed
            page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.locator(".st-key-weights_mode").get_by_text("your model").click()
        wait(page)
        page.locator('.st-key-weights_upload [data-testid="stFileUploaderDropzoneInput"]'
                     ).set_input_files(str(path))
        page.get_by_text(FOUND).wait_for()
        wait(page)
        charts = page.evaluate(CHARTS_JS)
        grad = [rows for title, rows in charts if "Gradient through time" in title]
        assert grad and 7 in grad[0], charts  # the model's 7 units, not the knobs' 32
        assert page.locator(".st-key-cfg_hidden_size input").is_disabled()
        page.screenshot(path=str(ARTIFACTS / f"weights_gradient_present{present}.png"),
                        full_page=True)

        page.locator('.st-key-weights_upload [data-testid="stFileUploaderDropzoneInput"]'
                     ).set_input_files(str(bad))
        page.get_by_text("not a weights file").first.wait_for()
        wait(page)
        assert page.get_by_text("the previous model is still shown").count()
        assert page.get_by_text(FOUND).count()  # the previous model stays
        page.screenshot(path=str(ARTIFACTS / f"weights_bad_file_present{present}.png"),
                        full_page=True)


def test_train_then_open_in_explore():
    """Train -> Open in Explore in the real page: a tiny run, the model's download button, one
    click, and Explore shows that LSTM as "your model" with its gradient view."""
    query = ("train_task=recall&delay=10&hidden_size=8&batch=8&steps=30&snapshot_every=10"
             "&models=rnn_tanh,lstm")
    with served_page("browser_weights_train_server.log", 1400) as (page, url):
        page.goto(f"{url}/train?{query}")
        wait(page)
        page.locator(".st-key-tr_run").get_by_role("button").click()
        page.get_by_text("Done: 30 steps").first.wait_for(timeout=120_000)
        wait(page)
        assert page.locator(".st-key-tr_weights_dl_1").count() == 1
        page.locator(".st-key-tr_weights_dl_1").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "weights_train_buttons.png"))
        with page.expect_download() as dl:
            page.locator(".st-key-tr_weights_dl_1").get_by_role("button").click()
        saved = ARTIFACTS / "weights_train_download.safetensors"
        dl.value.save_as(str(saved))
        from engine import config_from_weights, read_weights

        assert config_from_weights(read_weights(saved))[0].cell == "lstm"
        page.locator(".st-key-tr_weights_open_1").get_by_role("button").click()
        page.get_by_text("nn.LSTM(input_size=1, hidden_size=8, num_layers=1) at '', head "
                         "'readout' (1 outputs)").wait_for()
        wait(page)
        assert "/explore" in page.url or page.get_by_text("Unrolled · Explore").count()
        charts = page.evaluate(CHARTS_JS)
        assert [rows for title, rows in charts if "Gradient through time" in title][0] == [8], charts
        page.screenshot(path=str(ARTIFACTS / "weights_train_opened.png"), full_page=False)
