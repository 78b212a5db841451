"""Build the binary sample documents (PDF, DOCX) in data/docs/ from text kept here.

data/docs/ is a small corpus about a FICTIONAL company, Northwind Robotics
(北风机器人): the handbook, policies and guides that the chat page answers from
and that the end-to-end tests ask questions about. The Markdown, .txt and
.html files there are written by hand; this script only makes:

    data/docs/en/travel-policy.pdf     3 pages, Helvetica text layer
    data/docs/en/it-onboarding.docx    headings, paragraphs, bullets, one table
    data/docs/zh/报销制度.pdf           2 pages, embedded CJK font (subset)

It is a dev-time tool: the generated files are committed and the product never
runs this script. To rerun it (from the repository root), outside the project's
own virtualenv:

    apt-get update && apt-get install -y fonts-wqy-zenhei
    python3 -m venv /tmp/docsvenv
    /tmp/docsvenv/bin/pip install fpdf2 python-docx pypdf
    /tmp/docsvenv/bin/python tools/make_sample_docs.py          # build + check
    /tmp/docsvenv/bin/python tools/make_sample_docs.py --check  # check only

Another CJK TrueType font can be given with NW_CJK_FONT=/path/to/font.ttf|.ttc.
The check step extracts every page with pypdf and the DOCX with python-docx and
asserts that the key facts (Chinese included) come out as text. Output is
deterministic: fixed creation dates and ZIP timestamps, so rebuilding without
changing the text gives byte-identical files.

If you change a fact here, keep it consistent with the hand-written files
(en/employee-handbook.md, zh/员工手册.md, en/faq.html, en/office-closures-2024.txt)
and with any tests that ask about it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "data" / "docs"
EN_TRAVEL_PDF = DOCS / "en" / "travel-policy.pdf"
EN_IT_DOCX = DOCS / "en" / "it-onboarding.docx"
ZH_EXPENSE_PDF = DOCS / "zh" / "报销制度.pdf"

FIXED_DATE = dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=dt.timezone.utc)

CJK_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
]

# ---------------------------------------------------------------------------
# Content. Each document is a list of pages; each page a list of blocks:
#   ("h1", text) title, ("h2", text) section heading, ("p", text) paragraph,
#   ("li", text) bullet, ("table", [header_row, row, ...]).
# Page breaks are explicit so that the page of each fact is known.
# ---------------------------------------------------------------------------

TRAVEL_POLICY = [
    [  # page 1
        ("h1", "Northwind Robotics Travel Policy"),
        ("p", "Version 2.1, effective 1 March 2024. Owner: Finance Department "
              "(finance@northwind-robotics.example)."),
        ("h2", "1. Scope"),
        ("p", "This policy applies to all business travel by employees of the Hamburg "
              "headquarters of Northwind Robotics GmbH. Employees of the Shanghai office "
              "follow the separate Chinese-language China expense policy for travel within "
              "China."),
        ("p", "Travel should only happen when a video call is not enough. Prefer the "
              "train to the plane: domestic flights within Germany are not allowed when "
              "the train journey takes less than 5 hours."),
        ("h2", "2. Approval"),
        ("p", "Every business trip must be approved in Compass before anything is booked. "
              "Bookings made without approval are not reimbursed."),
        ("li", "Domestic trips (within Germany): approval by your line manager."),
        ("li", "International trips: approval by your line manager and your department head."),
        ("li", "Trips with an estimated total cost above EUR 5,000: additional approval by "
               "the CFO, Dr. Katrin Vogel."),
        ("h2", "3. Booking"),
        ("p", "All flights, trains and hotels are booked through our corporate travel agency, "
              "SkyBridge Travel, using the SkyBridge portal or by email to the travel desk at "
              "travel@northwind-robotics.example."),
        ("li", "Flights must be booked at least 14 days before departure."),
        ("li", "Book refundable or changeable fares only when the trip is likely to change."),
        ("li", "Private bookings of loyalty-program upgrades are allowed at your own cost."),
    ],
    [  # page 2
        ("h2", "4. Class of travel"),
        ("li", "Rail: second class. First class is allowed for train journeys longer than "
               "4 hours."),
        ("li", "Flights up to 6 hours: economy class."),
        ("li", "Flights longer than 6 hours: premium economy class."),
        ("li", "Business class is only reimbursed with written approval from the CFO."),
        ("li", "Rental cars: compact class. Use of a private car is reimbursed at "
               "EUR 0.30 per kilometre."),
        ("li", "Taxis are reimbursed when no reasonable public transport is available, "
               "or for journeys between 22:00 and 06:00."),
        ("h2", "5. Hotels"),
        ("p", "The hotel cap is EUR 150 per night, including breakfast and excluding city tax."),
        ("p", "In high-cost cities the hotel cap is EUR 220 per night. The high-cost cities "
              "are London, Paris, Zurich, New York, San Francisco and Tokyo."),
        ("p", "Book hotels through SkyBridge Travel, which has negotiated rates below these "
              "caps in most cities. Costs above the cap need approval from your department "
              "head before booking, otherwise you pay the difference."),
        ("p", "Minibar, pay-TV and laundry (for trips shorter than 5 nights) are not reimbursed."),
    ],
    [  # page 3
        ("h2", "6. Per diems (meal allowances)"),
        ("p", "Per diems cover meals and small expenses. They are paid with the expense "
              "report and need no receipts. The daily rates are:"),
        ("table", [
            ["Country", "Full day (24 hours)", "Partial day (more than 8 hours)"],
            ["Germany", "EUR 28", "EUR 14"],
            ["United Kingdom", "EUR 45", "EUR 30"],
            ["United States", "EUR 55", "EUR 37"],
            ["China", "EUR 40", "EUR 27"],
            ["Japan", "EUR 50", "EUR 33"],
        ]),
        ("p", "If a meal is provided (by the hotel, a customer or at a conference), the "
              "per diem is reduced: breakfast by 20% and lunch or dinner by 40% each, "
              "of the full-day rate."),
        ("h2", "7. Expense report"),
        ("p", "Submit the expense report for a trip in Compass within 30 days after you "
              "return, with receipts for hotels, transport and any other costs."),
        ("h2", "8. Insurance and emergencies"),
        ("p", "All employees on business travel are covered by the company's worldwide "
              "travel health insurance, policy number NW-TRV-2024-117."),
        ("p", "In an emergency while travelling, call the 24/7 travel assistance line: "
              "+49 40 5550 1999."),
    ],
]

IT_ONBOARDING = [
    ("title", "IT Onboarding Guide"),
    ("p", "Welcome to Northwind Robotics! This guide explains how to get your laptop, "
          "accounts and VPN working in your first week. It is maintained by the IT "
          "Service Desk at the Hamburg headquarters. Last updated: February 2024."),
    ("h1", "Your first day"),
    ("p", "On your first day, collect your laptop from the IT Service Desk on the 2nd "
          "floor, room 2.14, from 09:00. Bring your photo ID; you will also get your "
          "building badge there."),
    ("p", "The standard laptop is a Lenovo ThinkPad T14 with 32 GB of RAM. Engineers may "
          "choose a 14-inch MacBook Pro instead. Every laptop comes with a 27-inch monitor "
          "for your desk and a headset."),
    ("h1", "Accounts"),
    ("p", "Your username is firstname.lastname (for example anna.schmidt), and your email "
          "address is firstname.lastname@northwind-robotics.example."),
    ("li", "Your initial password is sent by SMS to the private phone number you gave the "
           "People Team. Change it at first login; the new password must be at least "
           "14 characters long."),
    ("li", "Set up multi-factor authentication with the Okta Verify app within 24 hours of "
           "your first login, or your account is locked."),
    ("li", "With single sign-on (Northwind SSO) you get access to email, the Mattermost "
           "chat, Compass (HR and expenses) and the Harbor wiki."),
    ("li", "GitLab and access to production systems must be requested by your manager "
           "through a Service Desk ticket."),
    ("h1", "VPN"),
    ("p", "Outside the office network you need the VPN to reach internal systems. We use "
          "WireGuard. Download your personal VPN profile from the self-service portal at "
          "https://selfservice.northwind-robotics.example and import it into the WireGuard "
          "client. The VPN gateway is vpn.northwind-robotics.example."),
    ("p", "A VPN session disconnects automatically after 12 hours; just reconnect."),
    ("h1", "Wi-Fi and printing"),
    ("li", "NW-Corp is the Wi-Fi network for company laptops. It uses certificates and "
           "connects automatically; no password is needed."),
    ("li", "NW-Guest is the Wi-Fi network for visitors. Its password changes every Monday "
           "and is available at reception."),
    ("li", "Printing uses follow-me printing: send the job to the printer queue "
           "NW-Print and release it at any printer with your badge."),
    ("h1", "Security settings on your laptop"),
    ("li", "Disk encryption (BitLocker on Windows, FileVault on macOS) is enabled and must "
           "stay enabled."),
    ("li", "Install software from the Northwind Software Center. You have no local "
           "administrator rights by default; admin rights can be requested through a "
           "ticket with your manager's approval and are valid for 30 days."),
    ("li", "Report a lost or stolen laptop or phone to the IT Service Desk within 1 hour, "
           "and suspected phishing to security@northwind-robotics.example."),
    ("h1", "Getting help"),
    ("p", "The IT Service Desk is open Monday to Friday, 08:00 to 18:00 (CET). Call "
          "extension 4357 (H-E-L-P) from any office phone, or +49 40 5550 4357 from "
          "outside. You can also email helpdesk@northwind-robotics.example or open a "
          "ticket at https://help.northwind-robotics.example."),
    ("p", "For urgent problems outside opening hours, such as a lost laptop, call the IT "
          "on-call number +49 40 5550 4399."),
    ("table", [
        ["Who", "For what", "How to reach"],
        ["IT Service Desk", "Laptops, accounts, VPN, software", "Extension 4357, "
         "helpdesk@northwind-robotics.example"],
        ["Lars Petersen, IT Manager", "Escalations and hardware exceptions", "Extension 4301"],
        ["Security team", "Phishing, lost devices, incidents",
         "security@northwind-robotics.example"],
        ["Your onboarding buddy", "Everyday questions in your first weeks",
         "Assigned by your manager"],
    ]),
    ("h1", "When you leave"),
    ("p", "Return your laptop, monitor, headset and badge to the IT Service Desk on your "
          "last working day."),
]

ZH_EXPENSE_POLICY = [
    [  # 第 1 页
        ("h1", "北风机器人中国区费用报销制度"),
        ("p", "2024 年版，自 2024 年 3 月 1 日起生效。负责部门：中国区财务部。"),
        ("p", "本制度适用于北风机器人（上海）有限公司上海办公室和深圳销售办公室的全体员工。"
              "汉堡总部员工的出差按总部差旅政策（Travel Policy）执行。"),
        ("h2", "一、基本原则"),
        ("li", "费用必须真实、合理，并与公司业务直接相关。"),
        ("li", "费用发生后 30 天内在 Compass 系统中提交报销申请。"),
        ("li", "超过 90 天提交的费用，不予报销。"),
        ("h2", "二、发票要求"),
        ("li", "报销须提供增值税发票（普通发票或专用发票）。"),
        ("li", "发票抬头：北风机器人（上海）有限公司"),
        ("li", "纳税人识别号：91310115MA1NW2024X"),
        ("li", "单笔 100 元以下的市内交通费，可凭电子行程单报销。"),
        ("li", "纸质发票交至上海办公室 12 楼财务部。"),
        ("h2", "三、审批权限"),
        ("table", [
            ["报销金额", "审批人"],
            ["2000 元及以下", "直属经理"],
            ["2000 元以上至 10000 元", "直属经理和部门负责人"],
            ["10000 元以上", "另需中国区总经理陈志远审批"],
        ]),
    ],
    [  # 第 2 页
        ("h2", "四、国内差旅标准"),
        ("li", "火车：乘坐高铁或动车二等座。"),
        ("li", "飞机：乘坐经济舱，须至少提前 7 天预订。"),
        ("li", "住宿：北京、上海、广州、深圳每晚不超过 600 元。"),
        ("li", "住宿：其他城市每晚不超过 400 元。"),
        ("li", "出差补贴：每天 100 元，包含餐费，无需发票。"),
        ("li", "市内交通优先乘坐公共交通；出租车和网约车凭发票或电子行程单报销。"),
        ("h2", "五、业务招待"),
        ("li", "业务招待须事先在 Compass 系统中申请。"),
        ("li", "业务招待费用人均不超过 200 元。"),
        ("li", "报销时须注明客户名称和全部参加人员。"),
        ("h2", "六、通讯补贴"),
        ("p", "销售岗位员工每月享有 200 元手机话费补贴，随工资发放，无需报销。"),
        ("h2", "七、不予报销的费用"),
        ("p", "交通罚款和违章费用、酒店迷你吧、个人娱乐消费、未经批准的升舱或升级费用。"),
        ("h2", "八、打款时间"),
        ("p", "财务部每月 10 日和 25 日统一将报销款打入员工工资卡，遇节假日顺延。"),
        ("h2", "九、联系方式"),
        ("li", "中国区财务经理：李娜"),
        ("li", "财务部邮箱：finance-cn@northwind-robotics.example"),
        ("li", "财务部分机：8021"),
    ],
]

# Facts the check step looks for: (file, page number or None, substring).
# Whitespace (including line breaks) is removed before comparing, so a fact
# wrapped across two lines still counts.
EXPECTED_FACTS = [
    (EN_TRAVEL_PDF, 1, "EUR 5,000"),
    (EN_TRAVEL_PDF, 1, "Dr. Katrin Vogel"),
    (EN_TRAVEL_PDF, 1, "SkyBridge Travel"),
    (EN_TRAVEL_PDF, 1, "at least 14 days before departure"),
    (EN_TRAVEL_PDF, 2, "EUR 150 per night"),
    (EN_TRAVEL_PDF, 2, "EUR 220 per night"),
    (EN_TRAVEL_PDF, 2, "premium economy"),
    (EN_TRAVEL_PDF, 2, "EUR 0.30 per kilometre"),
    (EN_TRAVEL_PDF, 3, "EUR 28"),
    (EN_TRAVEL_PDF, 3, "EUR 55"),
    (EN_TRAVEL_PDF, 3, "NW-TRV-2024-117"),
    (EN_TRAVEL_PDF, 3, "+49 40 5550 1999"),
    (EN_IT_DOCX, None, "extension 4357"),
    (EN_IT_DOCX, None, "room 2.14"),
    (EN_IT_DOCX, None, "Lenovo ThinkPad T14"),
    (EN_IT_DOCX, None, "vpn.northwind-robotics.example"),
    (EN_IT_DOCX, None, "WireGuard"),
    (EN_IT_DOCX, None, "Okta Verify"),
    (EN_IT_DOCX, None, "Lars Petersen"),
    (EN_IT_DOCX, None, "+49 40 5550 4399"),
    (ZH_EXPENSE_PDF, 1, "北风机器人中国区费用报销制度"),
    (ZH_EXPENSE_PDF, 1, "30 天内"),
    (ZH_EXPENSE_PDF, 1, "91310115MA1NW2024X"),
    (ZH_EXPENSE_PDF, 1, "陈志远"),
    (ZH_EXPENSE_PDF, 1, "10000 元以上"),
    (ZH_EXPENSE_PDF, 2, "每晚不超过 600 元"),
    (ZH_EXPENSE_PDF, 2, "每晚不超过 400 元"),
    (ZH_EXPENSE_PDF, 2, "每天 100 元"),
    (ZH_EXPENSE_PDF, 2, "人均不超过 200 元"),
    (ZH_EXPENSE_PDF, 2, "每月 10 日和 25 日"),
    (ZH_EXPENSE_PDF, 2, "李娜"),
    (ZH_EXPENSE_PDF, 2, "8021"),
]

EXPECTED_PAGES = {EN_TRAVEL_PDF: 3, ZH_EXPENSE_PDF: 2}


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

def find_cjk_font() -> str:
    env = os.environ.get("NW_CJK_FONT")
    if env:
        return env
    for cand in CJK_FONT_CANDIDATES:
        if Path(cand).exists():
            return cand
    sys.exit("No CJK TrueType font found: apt-get install -y fonts-wqy-zenhei, "
             "or set NW_CJK_FONT=/path/to/font.ttf")


def build_pdf(pages, out: Path, *, title: str, footer: str, cjk: bool) -> None:
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    class DocPDF(FPDF):
        def footer(self):
            self.set_y(-15)
            self.set_font(family, "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 10, footer.format(page=self.page_no(), pages="{nb}"),
                      align="C")
            self.set_text_color(0, 0, 0)

    pdf = DocPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author("Northwind Robotics (fictional sample data)")
    pdf.set_creator("tools/make_sample_docs.py")
    pdf.set_lang("zh-CN" if cjk else "en")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)

    if cjk:
        # wqy-zenhei carries bitmap strikes fontTools cannot subset; it drops
        # them (the outlines are kept) and logs "BDF NOT subset" for each.
        logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
        family = "cjk"
        font = find_cjk_font()
        pdf.add_font(family, "", font)
        pdf.add_font(family, "B", font)  # no bold face in the font: headings use size
        wrap = WrapMode.CHAR
    else:
        family = "Helvetica"
        wrap = WrapMode.WORD

    for page in pages:
        pdf.add_page()
        for kind, content in page:
            if kind == "h1":
                pdf.set_font(family, "B", 18)
                pdf.multi_cell(0, 10, content, new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                               wrapmode=wrap)
                pdf.ln(2)
            elif kind == "h2":
                pdf.ln(3)
                pdf.set_font(family, "B", 13)
                pdf.multi_cell(0, 8, content, new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                               wrapmode=wrap)
                pdf.ln(1)
            elif kind == "p":
                pdf.set_font(family, "", 11)
                pdf.multi_cell(0, 6, content, new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                               wrapmode=wrap, align="L")
                pdf.ln(2)
            elif kind == "li":
                pdf.set_font(family, "", 11)
                pdf.set_x(pdf.l_margin + 4)
                bullet = "- " if not cjk else "· "
                pdf.multi_cell(0, 6, bullet + content, new_x=XPos.LMARGIN,
                               new_y=YPos.NEXT, wrapmode=wrap, align="L")
                pdf.ln(1)
            elif kind == "table":
                pdf.ln(1)
                pdf.set_font(family, "", 10)
                with pdf.table(line_height=7, wrapmode=wrap,
                               text_align="LEFT") as table:
                    for row in content:
                        r = table.row()
                        for cell in row:
                            r.cell(cell)
                pdf.ln(3)
            else:
                raise ValueError(kind)
        if pdf.page_no() != pages.index(page) + 1:
            raise RuntimeError(f"{out.name}: page {pages.index(page) + 1} overflowed")

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(pdf.output()))


# ---------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------

def build_docx(blocks, out: Path) -> None:
    import docx
    from docx.shared import Pt

    d = docx.Document()
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(11)
    cp = d.core_properties
    cp.title = "IT Onboarding Guide"
    cp.author = "Northwind Robotics IT Service Desk (fictional sample data)"
    cp.last_modified_by = "tools/make_sample_docs.py"
    cp.created = FIXED_DATE.replace(tzinfo=None)
    cp.modified = FIXED_DATE.replace(tzinfo=None)
    cp.revision = 1

    for kind, content in blocks:
        if kind == "title":
            d.add_heading(content, level=0)
        elif kind == "h1":
            d.add_heading(content, level=1)
        elif kind == "p":
            d.add_paragraph(content)
        elif kind == "li":
            d.add_paragraph(content, style="List Bullet")
        elif kind == "table":
            t = d.add_table(rows=len(content), cols=len(content[0]))
            t.style = "Table Grid"
            for i, row in enumerate(content):
                for j, text in enumerate(row):
                    t.cell(i, j).text = text
                    if i == 0:
                        for run in t.cell(i, j).paragraphs[0].runs:
                            run.bold = True
        else:
            raise ValueError(kind)

    buf = io.BytesIO()
    d.save(buf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalize_zip(buf.getvalue()))


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a ZIP with fixed timestamps so rebuilds are byte-identical."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2024, 3, 1, 9, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------------------
# Check
# ---------------------------------------------------------------------------

def _squash(s: str) -> str:
    return "".join(s.split())


def extract_pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader
    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def extract_docx(path: Path) -> str:
    import docx
    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


def check(verbose: bool = False) -> int:
    failures = 0
    cache: dict[Path, object] = {}
    for path, n in EXPECTED_PAGES.items():
        pages = extract_pdf_pages(path)
        cache[path] = pages
        if len(pages) != n:
            print(f"FAIL {path.relative_to(ROOT)}: {len(pages)} pages, expected {n}")
            failures += 1
        if verbose:
            for i, text in enumerate(pages, 1):
                print(f"----- {path.relative_to(DOCS)} page {i} -----\n{text}")
    cache[EN_IT_DOCX] = extract_docx(EN_IT_DOCX)
    if verbose:
        print(f"----- {EN_IT_DOCX.relative_to(DOCS)} -----\n{cache[EN_IT_DOCX]}")

    for path, page, fact in EXPECTED_FACTS:
        content = cache[path]
        text = content[page - 1] if page else content
        where = f"{path.relative_to(DOCS)}" + (f" p.{page}" if page else "")
        if _squash(fact) in _squash(text):
            print(f"ok   {where}: {fact}")
        else:
            print(f"FAIL {where}: {fact!r} not found")
            failures += 1
    # Mojibake guard: the Chinese PDF must be mostly CJK ideographs, not (cid:..)
    zh = "".join(cache[ZH_EXPENSE_PDF])
    cjk = sum(1 for ch in zh if "\u4e00" <= ch <= "\u9fff")
    if cjk < 300 or "(cid:" in zh or "\ufffd" in zh:
        print(f"FAIL {ZH_EXPENSE_PDF.name}: only {cjk} CJK characters extracted")
        failures += 1
    print(f"{len(EXPECTED_FACTS) - failures} facts ok, {failures} failed")
    return failures


def build() -> None:
    build_pdf(TRAVEL_POLICY, EN_TRAVEL_PDF, title="Northwind Robotics Travel Policy",
              footer="Northwind Robotics - Travel Policy v2.1 - Page {page} of {pages}",
              cjk=False)
    build_pdf(ZH_EXPENSE_POLICY, ZH_EXPENSE_PDF, title="北风机器人中国区费用报销制度",
              footer="北风机器人中国区费用报销制度 第 {page} 页，共 {pages} 页", cjk=True)
    build_docx(IT_ONBOARDING, EN_IT_DOCX)
    for p in (EN_TRAVEL_PDF, EN_IT_DOCX, ZH_EXPENSE_PDF):
        print(f"wrote {p.relative_to(ROOT)} ({p.stat().st_size} bytes)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check, do not build")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the extracted text")
    args = ap.parse_args()
    if not args.check:
        build()
    return 1 if check(args.verbose) else 0


if __name__ == "__main__":
    sys.exit(main())
