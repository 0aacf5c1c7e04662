// 码上监督二维码: a centre's QR code for the citizen form (/report/{centre}), as a poster to print or a PNG
// to download. The QR code and the address come from the gateway (GET /report/{centre}/link, public: the
// form is public), pointing at HUB_CITIZEN_PUBLIC_URL; staff choose among their own centre and those below.

import { currentSession } from "../api.js";
import { clear, h } from "../dom.js";
import { centres, field, heading, main, page, warn } from "../shell.js";

function mineAndBelow(tree, centre) {
  if (!centre) return tree;
  const byId = new Map(tree.map((c) => [c.id, c]));
  const under = (c) => {
    for (let at = c; at; at = byId.get(at.parent_id)) if (at.id === centre) return true;
    return false;
  };
  return tree.filter(under);
}

async function qrView() {
  const session = currentSession();
  const tree = mineAndBelow((await centres()) || [], session && session.centre);
  main.append(
    heading("码上监督二维码"),
    h("p", { class: "hint" }, "市民扫码即可反映问题（短信验证或匿名），提交后凭链接查看办理进度并评价。请打印后张贴在服务窗口、社区公告栏等醒目位置。"),
  );
  if (!tree.length) {
    main.append(h("p", { class: "empty" }, "没有可生成二维码的综治中心。"));
    return;
  }
  const select = h("select", { name: "centre" }, tree.map((c) => h("option", { value: c.id }, `${c.name_zh}（${c.id}）`)));
  select.value = tree.some((c) => c.id === (session && session.centre)) ? session.centre : tree[0].id;
  const download = h("a", { class: "button-link", download: "" }, "下载 PNG 图片");
  const print = h("button", { type: "button" }, "打印二维码");
  print.addEventListener("click", () => window.print());
  const controls = h("div", { class: "card qr-controls" }, field("qr-centre", "综治中心", select), h("p", { class: "qr-actions" }, print, " ", download));
  const poster = h("section", { class: "card qr-poster", "aria-labelledby": "qr-title", "data-qr": "" });
  main.append(controls, poster);

  const draw = async () => {
    const code = select.value;
    clear(poster).append(h("p", { class: "hint" }, "正在加载…"));
    const response = await fetch(`/report/${encodeURIComponent(code)}/link`, { headers: { Accept: "application/json" }, credentials: "omit" });
    const link = await response.json().catch(() => ({}));
    if (!response.ok) {
      clear(poster);
      warn(link.detail || link.title || "二维码暂时无法生成，请稍后再试。");
      return;
    }
    download.href = link.qr_png;
    download.setAttribute("download", `码上监督-${link.centre_code}.png`);
    clear(poster).append(
      h("h2", { id: "qr-title" }, link.centre_name),
      h("p", { class: "qr-slogan" }, "码上监督 · 扫码反映问题"),
      h("img", { class: "qr-image", src: link.qr_svg, width: "260", height: "260", alt: `${link.centre_name}码上监督二维码，扫码打开 ${link.url}` }),
      h("p", { class: "qr-url" }, link.url),
      h("p", { class: "qr-note" }, "填写问题并短信验证后提交，也可匿名反映；提交后可凭链接查看办理进度和部门答复，并进行评价。"),
    );
  };
  select.addEventListener("change", () => draw());
  await draw();
}

page({ path: "qr", title: "码上监督", roles: ["centre", "supervisor"], view: qrView });
