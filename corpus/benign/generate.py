#!/usr/bin/env python3
"""Generate corpus/benign/generated.jsonl: synthetic but realistic benign API traffic.

Python 3 standard library only, deterministic (fixed seed, no clock, no set iteration, no
hash-order dependence): every run writes the same bytes. The output is used only to measure
false positives of actorwatch's payload threat rules; never tune a rule to a single line of it.

    python3 corpus/benign/generate.py            # writes generated.jsonl next to this file
    python3 corpus/benign/generate.py -o FILE -n 20000

Each line: {"case", "category": "benign", "method", "path", "headers", "body"}, the attack
corpus's fields (see /work/shared/attack-corpus/README.md). `path` carries the query string
percent-encoded the way real clients do it (form/URLSearchParams style `+` and `%27`,
encodeURIComponent style `%20` with `'` left bare, or Python's `quote` style).
"""
import argparse
import base64
import hashlib
import json
import os
import random
import urllib.parse

SEED = 20261202
DEFAULT_N = 20000

R = random.Random(SEED)


def pick(seq):
    return seq[R.randrange(len(seq))]


def chance(p):
    return R.random() < p


def hexs(n):
    return "".join(pick("0123456789abcdef") for _ in range(n))


def alnum(n, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"):
    return "".join(pick(alphabet) for _ in range(n))


def uuid4():
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{pick('89ab')}{h[17:20]}-{h[20:32]}"


def rbytes(n):
    return bytes(R.randrange(256) for _ in range(n))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64(b):
    return base64.b64encode(b).decode()


def iso_date(year=None):
    y = year or R.randint(2021, 2026)
    return f"{y}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"


def iso_ts():
    return (f"{iso_date()}T{R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d}"
            + pick(["Z", ".000Z", f".{R.randint(0, 999):03d}Z", "+02:00", "-05:00", "+09:00"]))


def epoch():
    return R.randint(1640995200, 1798761600)


# ---------------------------------------------------------------------------------------------
# Encoders: three ways real clients write a query string or form body.

def enc_form(pairs):
    """HTML forms, URLSearchParams, Python urlencode: space -> '+', "'" -> %27."""
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote_plus)


def enc_uri_component(pairs):
    """JavaScript encodeURIComponent: space -> %20, leaves - _ . ! ~ * ' ( ) bare."""
    q = lambda s: urllib.parse.quote(str(s), safe="-_.!~*'()")
    return "&".join(f"{q(k)}={q(v)}" for k, v in pairs)


def enc_quote(pairs):
    """Go url.Values / Python quote: space -> %20, "'" -> %27."""
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)


def qs(pairs, style=None):
    if not pairs:
        return ""
    style = style or pick([enc_form, enc_form, enc_form, enc_uri_component, enc_quote])
    return style(pairs)


def with_qs(path, pairs, style=None):
    q = qs(pairs, style)
    return path + ("?" + q if q else "")


# ---------------------------------------------------------------------------------------------
# People, places, text.

FIRST = ["James", "Mary", "Liam", "Olivia", "Noah", "Emma", "Sean", "Siobhan", "Aoife", "Conor",
         "Ana", "José", "María", "Zoë", "Chloé", "François", "Søren", "Åsa", "Björn", "Łukasz",
         "Małgorzata", "Jürgen", "Müge", "Çağla", "Nguyễn", "Thảo", "Priya", "Arjun", "Aarav",
         "Fatima", "Mohammed", "Yusuf", "Amara", "Chinedu", "Kwame", "Ngozi", "Hiroshi", "Yuki",
         "Sakura", "Min-jun", "Seo-yeon", "Wei", "Li", "Mei", "Dmitri", "Olga", "Ivan", "Anne-Marie",
         "Jean-Luc", "Mary Kate", "D'Andre", "De'Shawn", "Ren\u00e9e", "Ximena", "Ólafur", "Eilidh",
         "Tom", "Sarah", "David", "Laura", "Michael", "Jennifer", "Robert", "Linda", "Daniel", "Grace"]
LAST = ["Smith", "Johnson", "O'Brien", "O'Connor", "O'Neill", "D'Angelo", "D'Amico", "D'Souza",
        "McDonald", "MacLeod", "Van der Berg", "de la Cruz", "García", "Rodríguez", "Müller",
        "Schröder", "Nørgaard", "Kowalski", "Wiśniewska", "Yılmaz", "Öztürk", "Nguyen", "Tran",
        "Patel", "Sharma", "Iyer", "Khan", "Al-Farsi", "Okafor", "Mensah", "Adeyemi", "Tanaka",
        "Suzuki", "Sato", "Kim", "Park", "Wang", "Zhang", "Chen", "Ivanova", "Petrov", "Dubois",
        "Lefèvre", "Rossi", "Bianchi", "Silva", "Santos", "Smith-Jones", "St. John", "L'Heureux",
        "Dell'Orto", "N'Diaye", "Brown", "Taylor", "Wilson", "Anderson", "Thomas", "Lee", "Walker"]
CJK_NAMES = ["王伟", "李娜", "张敏", "山田太郎", "佐藤花子", "김민준", "이서연", "陈静", "鈴木一郎"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "icloud.com", "proton.me", "fastmail.com",
           "example.com", "acme-corp.io", "mail.ru", "web.de", "orange.fr", "qq.com", "naver.com"]
CITIES = [("Dublin", "IE", "D02 X285"), ("New York", "US", "10001"), ("San Francisco", "US", "94103"),
          ("London", "GB", "SW1A 1AA"), ("Berlin", "DE", "10115"), ("München", "DE", "80331"),
          ("Paris", "FR", "75011"), ("Montréal", "CA", "H2X 1Y4"), ("São Paulo", "BR", "01310-100"),
          ("Zürich", "CH", "8001"), ("Kraków", "PL", "30-001"), ("İstanbul", "TR", "34000"),
          ("Tokyo", "JP", "100-0001"), ("Seoul", "KR", "04524"), ("Bengaluru", "IN", "560001"),
          ("Lagos", "NG", "100001"), ("Sydney", "AU", "2000"), ("Coeur d'Alene", "US", "83814"),
          ("Martha's Vineyard", "US", "02568"), ("Saint-Jean-sur-Richelieu", "CA", "J3B 1A1"),
          ("Chicago", "US", "60601"), ("Austin", "US", "78701"), ("Toronto", "CA", "M5V 2T6")]
STREETS = ["Main St", "O'Connell Street", "Rue de l'Église", "Baker Street", "5th Avenue",
           "Königstraße", "Calle de Alcalá", "Avenida Paulista", "Queen's Road", "King's Cross Rd",
           "Elm Street", "Market St", "Piccadilly", "Via dell'Orso", "Rua Augusta", "Ocean Drive"]
EMOJI = ["🙂", "😂", "👍", "🔥", "🎉", "❤️", "🙏", "✅", "🚀", "😅", "🤔", "👀", "💯", "🥳", "😍", "☕"]

PRODUCTS = ["wireless earbuds", "USB-C charger 65W", "rock 'n' roll vinyl box set", "kids' bike helmet",
            "men's running shoes", "women's rain jacket", "drop-leaf table", "union suit pajamas",
            "select-a-size paper towels", "cast iron skillet 12\"", "organic green tea", "4K monitor 27\"",
            "ergonomic office chair", "standing desk", "noise cancelling headphones", "yoga mat",
            "Levi's 501 jeans", "Ben & Jerry's ice cream", "Dr. Martens boots", "M&M's party pack",
            "Trader Joe's coffee", "Ray-Ban Wayfarer", "AT&T prepaid SIM", "Barnes & Noble gift card",
            "back-to-school bundle", "2-in-1 laptop", "air fryer 5.8qt", "espresso machine",
            "pillow (set of 2)", "LEGO Star Wars set", "phone case — clear", "Nespresso pods x50"]
CATEGORIES = ["electronics", "home-garden", "books", "toys", "fashion", "sports", "grocery",
              "beauty", "automotive", "pet-supplies", "office", "music"]

SEARCH_QUERIES = [
    "select the best option", "union station parking", "drop shipping suppliers", "delete my account",
    "where is my order", "from 1 to 10", "O'Brien", "D'Angelo pizza", "rock 'n' roll", "rock and roll",
    "men's shoes size 10", "kids' toys under $20", "cheap flights to new york", "flights from dublin to paris",
    "how to select a mortgage", "update my address", "insert sim card iphone", "create account",
    "black or white", "red and blue", "t-shirt -long sleeve", "\"exact phrase match\"", "c++ tutorial",
    "c# vs java", "node.js or deno", "macbook pro 14\" m3", "55\" tv", "50% off", "$50 gift card",
    "tom & jerry", "salt & pepper", "q&a", "AT&T", "H&M jeans", "where to buy", "order by date",
    "group by in pandas", "table for 2 tonight", "drop-in daycare", "union jack flag",
    "select comfort mattress", "truncate text css", "alter ego", "exec summary template",
    "join the team", "shell beach", "cat food", "cat videos", "ping pong table", "echo dot",
    "kill bill", "sleep mask", "wait times", "chmod vs chown", "who is on call", "curl hair tips",
    "wget alternative", "bash birthday party", "nc state", "python list comprehension",
    "¿dónde está mi pedido?", "café près de moi", "Straße Öffnungszeiten", "寿司 東京", "北京 天气",
    "서울 맛집", "ramen 🍜", "pizza 🍕 near me", "naïve bayes", "crème brûlée recipe", "日本語 教科書",
    "1=1", "x + y = 10", "2+2", "a < b", "5 > 3", "10% discount code", "50/50 raffle", "24/7 support",
    "i can't log in", "it's not working", "don't charge me twice", "won't load", "you're welcome",
    "St. Patrick's Day", "Valentine's Day gifts", "mother's day", "New Year's Eve", "Macy's",
    "where can I find my invoice", "and", "or", "not", "null", "true", "none", "undefined",
    "admin", "test", "SELECT", "the select few", "drop", "where", "update", "from", "script",
    "alert", "prompt", "confirm booking", "onload", "javascript tutorial for beginners",
    "html entities list", "<3", "i <3 ny", ";)", ":-)", "100% cotton", "#hashtag", "@mention",
    "email@example.com", "+1 (555) 010-9999", "10:30 am", "2024-05-01", "B&B in Galway",
]

SENTENCES = [
    "Please select the best option for my team and let me know.",
    "We met at Union Station and then walked to the office.",
    "I'm thinking about drop shipping for my small store; any advice?",
    "Please delete my account and all associated data, thanks.",
    "Where is my order? It was supposed to arrive on Monday.",
    "Rate the service from 1 to 10 where 10 is best.",
    "My name is Seán O'Brien and I'd like to update my shipping address.",
    "Can you ask Mr. D'Angelo to call me back?",
    "We love rock 'n' roll and jazz; the 60's and 70's were the best.",
    "If x = 1 and y = 1 then x = y, so 1=1 is true. Is my proof correct?",
    "Solve for x: 2x + 3 = 7; then check that 2(2) + 3 = 7.",
    "Homework: prove that for all n >= 1, 1 + 2 + ... + n = n(n+1)/2.",
    "Is it true that 0.999... = 1? My teacher said yes.",
    "Meeting notes: budget approved; launch moved to Q3 | owner: Dana & Raj.",
    "Prices went from $19.99 to $24.99 — that's a 25% increase!",
    "I paid $120 & still haven't got a receipt.",
    "Order #4521 & #4522 were both charged twice.",
    "Sorry for the delay -- signature below.",
    "Thanks,\n-- \nMaria García\nSenior Buyer | Acme Corp",
    "Best regards,\n--\nTom\nSent from my iPhone",
    "Either the red one or the blue one is fine, and the size should be M.",
    "You can't select more than 3 items, and I don't want to drop any of them.",
    "Update: the issue is fixed now 🎉 thank you so much!",
    "The app crashes when I tap 'Save' on the profile screen.",
    "It says \"Invalid input\" when I type my last name O'Connor.",
    "Why does the form reject names like D'Souza or Nguyễn?",
    "Could you insert a line break between the title and the description?",
    "Please join us for dinner; we'll order from the Italian place.",
    "Having trouble with login — I get a blank page and then nothing happens.",
    "I'd like to exchange the shoes for a size 9 & 1/2 if possible.",
    "Great product!!! 5/5 would buy again 👍",
    "Terrible experience, waited 45 min on hold. 1/10.",
    "Is this compatible with Windows 11 and macOS Sonoma?",
    "The package was left at the front door; the box was wet.",
    "Can I pay with PayPal or Apple Pay?",
    "Does the 'select' plan include priority support?",
    "Our union meeting is on Thursday at 6pm; where should we meet?",
    "Table for 4 please, at 7:30 — it's a birthday!",
    "Where can I find the user guide (PDF)?",
    "Please cancel order 88213; I ordered the wrong colour.",
    "I cannot update my email; it says it's already in use.",
    "Shipping to Coeur d'Alene, ID takes how long?",
    "Très bien, merci beaucoup pour votre aide !",
    "Vielen Dank für die schnelle Lieferung. Alles bestens.",
    "¡Gracias! El pedido llegó en perfecto estado.",
    "ありがとうございます。また利用します。",
    "非常感谢，产品质量很好。",
    "배송이 빨라서 좋아요!",
    "Спасибо, всё пришло вовремя.",
    "شكرا لكم على الخدمة الممتازة",
    "תודה רבה על העזרה",
    "Obrigado pela ajuda, o problema foi resolvido.",
    "Grazie mille, tutto perfetto.",
    "Dziękuję za szybką odpowiedź.",
    "The kids loved it — 10/10 would recommend to other parents.",
    "Note: the second item (the charger) didn't work out of the box.",
    "Use code SAVE20 at checkout for 20% off orders over $50.",
    "First, open Settings > Account > Privacy; then toggle 'Share data' off.",
    "If the light is red or orange, wait 30 seconds and try again.",
    "My phone number changed to +44 20 7946 0958.",
    "Call me at (555) 010-2368 between 9 and 5.",
    "Deliveries between 08:00-12:00 work best for us.",
    "I want to drop the premium add-on from my subscription.",
    "Select all that apply: email, SMS, push.",
    "Where do I find the order history from last year?",
    "When you're done, sign and return the form.",
    "He said 'hello' and then left.",
    "The password hint was \"my dog's name\".",
    "Look for the blue button at the top-right corner.",
    "The invoice total is €1.234,56 incl. VAT (23%).",
    "Estimated time: 3-5 business days; express: 1-2 days.",
    "Version 2.3.1 fixed the bug, but 2.4.0 introduced a new one :(",
]

CODE_SNIPPETS = [
    ("javascript", "const total = items.reduce((sum, i) => sum + i.price * i.qty, 0);\nconsole.log(`Total: ${total}`);"),
    ("python", "def slugify(title):\n    return '-'.join(title.lower().split())\n\nprint(slugify(\"Hello World\"))"),
    ("rust", "fn main() {\n    let v: Vec<u32> = (1..=10).collect();\n    println!(\"{:?}\", v.iter().sum::<u32>());\n}"),
    ("go", "func handler(w http.ResponseWriter, r *http.Request) {\n\tfmt.Fprintf(w, \"hello %s\", r.URL.Path[1:])\n}"),
    ("css", ".card {\n  display: flex;\n  gap: 1rem;\n  border-radius: 8px;\n}"),
    ("json", "{\n  \"name\": \"my-app\",\n  \"version\": \"1.0.0\",\n  \"private\": true\n}"),
    ("yaml", "services:\n  web:\n    image: nginx:1.25\n    ports:\n      - \"8080:80\""),
    ("typescript", "interface User {\n  id: string;\n  email: string;\n  roles: string[];\n}"),
    ("java", "public static int add(int a, int b) {\n    return a + b;\n}"),
    ("bash", "npm install\nnpm run build"),
    ("bash", "git checkout -b feature/login-page\ngit commit -m \"Add login page\""),
]
# Shell-ish and SQL-ish snippets: real in developer support tickets and tech blogs, used sparingly.
SHELL_SNIPPETS = [
    "ls -la ~/Downloads",
    "cat ~/.npmrc",
    "tail -n 50 app.log",
    "ps aux | grep node",
    "df -h",
    "docker compose up -d",
    "kubectl get pods -n staging",
    "pip install --upgrade requests",
    "brew update && brew upgrade",
    "ping -c 4 api.example.com",
]
SQL_SNIPPETS = [
    "SELECT id, name FROM customers WHERE country = 'IE' ORDER BY name;",
    "SELECT COUNT(*) FROM orders WHERE created_at >= '2024-01-01';",
    "UPDATE settings SET theme = 'dark' WHERE user_id = 42;",
]

HOSTS_API = ["api.example.com", "api.shopfront.io", "api.acme-corp.io", "backend.example.org",
             "api.helpdesk.example.net", "gateway.example.com", "api.blogly.dev"]
HOSTS_WEB = ["www.example.com", "shop.example.com", "app.example.com", "help.example.net",
             "blog.example.org", "dashboard.acme-corp.io", "portal.example.co.uk"]
PUBLIC_HOSTS = ["https://hooks.slack.com/services/T024BE7LD/B01ABCD2EFG/" , "https://discord.com/api/webhooks/",
                "https://example.com/webhooks/", "https://api.partner-shop.com/callbacks/",
                "https://hooks.zapier.com/hooks/catch/", "https://webhook.site/",
                "https://events.pagerduty.com/integration/", "https://my-app.herokuapp.com/hooks/",
                "https://ci.example.org/github-webhook/", "https://n8n.acme-corp.io/webhook/"]

# ---------------------------------------------------------------------------------------------
# Clients: user agents and their header styles.

CHROME_V = ["118.0.0.0", "120.0.0.0", "122.0.0.0", "124.0.0.0", "126.0.0.0", "128.0.0.0", "131.0.0.0"]
UA_BROWSER = [
    lambda v: f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36",
    lambda v: f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36",
    lambda v: f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36",
    lambda v: f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36 Edg/{v.split('.')[0]}.0.2365.92",
    lambda v: f"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36",
    lambda v: f"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36",
]
UA_FIREFOX = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
              "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
              "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:131.0) Gecko/20100101 Firefox/131.0"]
UA_SAFARI = ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
             "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
             "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"]
UA_MOBILE_APP = ["ShopFront/5.12.0 (com.shopfront.app; build:5120; iOS 17.5.1) Alamofire/5.9.1",
                 "ShopFront/5.11.3 (Android 14; Pixel 7; build 511300) okhttp/4.12.0",
                 "okhttp/4.12.0", "okhttp/3.14.9", "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)",
                 "HelpDesk/3.4 CFNetwork/1494.0.7 Darwin/23.4.0", "Acme%20Mobile/812 CFNetwork/1410.0.3 Darwin/22.6.0",
                 "Dart/3.3 (dart:io)", "ReactNativeApp/2.8.1 (iPhone; iOS 17.4; Scale/3.00)"]
UA_TOOL = ["curl/8.5.0", "curl/7.81.0", "curl/8.7.1", "python-requests/2.31.0", "python-requests/2.32.3",
           "python-httpx/0.27.0", "axios/1.6.8", "axios/1.7.2", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
           "node", "undici", "Go-http-client/1.1", "Go-http-client/2.0", "Java/17.0.10", "Apache-HttpClient/4.5.14 (Java/11.0.22)",
           "PostmanRuntime/7.37.3", "insomnia/2023.5.8", "Stripe/v1 RubyBindings/10.12.0", "aws-sdk-js/3.577.0 ua/2.0 os/linux#5.15 lang/js md/nodejs#20.12.2",
           "Boto3/1.34.110 md/Botocore#1.34.110 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9",
           "GitHub-Hookshot/1a2b3c4", "Slackbot 1.0 (+https://api.slack.com/robots)", "HTTPie/3.2.2",
           "Wget/1.21.4", "Ruby", "Faraday v2.9.0", "Guzzle/7 (curl/7.88.1; PHP/8.2.18)", "Terraform/1.8.3",
           "kube-probe/1.29", "Prometheus/2.51.0", "ELB-HealthChecker/2.0", "Datadog Agent/7.53.0"]

ACCEPT_HTML = ["text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
               "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
               "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]
ACCEPT_JSON = ["application/json", "application/json, text/plain, */*", "application/json;q=0.9, */*;q=0.8",
               "*/*", "application/json, text/javascript, */*; q=0.01", "application/vnd.api+json",
               "application/hal+json, application/json;q=0.9", "application/json; charset=utf-8"]
ACCEPT_LANG = ["en-US,en;q=0.9", "en-GB,en;q=0.9,en-US;q=0.8", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
               "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "es-ES,es;q=0.9", "ja,en-US;q=0.9,en;q=0.8",
               "zh-CN,zh;q=0.9,en;q=0.8", "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "ko-KR,ko;q=0.9,en-US;q=0.8",
               "en-IE,en;q=0.9,ga;q=0.8", "pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7", "en"]


def public_ip():
    while True:
        a = R.randint(1, 223)
        if a in (10, 127, 100, 169, 172, 192, 198, 0):
            continue
        return f"{a}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


def ipv6():
    return "2a02:" + ":".join(hexs(4).lstrip("0") or "0" for _ in range(3)) + "::" + hexs(4).lstrip("0")


def jwt(email=None, sub=None):
    alg = pick(["RS256", "RS256", "RS256", "HS256", "HS256", "HS256", "ES256", "ES256", "PS256"])
    hdr = {"alg": alg, "typ": "JWT"}
    if alg != "HS256" or chance(0.3):
        hdr["kid"] = pick([hexs(40), alnum(22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), uuid4()])
    iat = epoch()
    body = {"iss": pick(["https://auth.example.com/", "https://acme.eu.auth0.com/", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyZ",
                         "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", "https://securetoken.google.com/shopfront-prod",
                         "https://id.example.org/realms/main"]),
            "sub": sub or pick([uuid4(), f"auth0|{hexs(24)}", str(R.randint(10000, 9999999)), alnum(28)]),
            "aud": pick(["https://api.example.com", "shopfront-web", ["api", "web"], "account"]),
            "iat": iat, "exp": iat + pick([300, 900, 3600, 86400])}
    if chance(0.6):
        body["scope"] = pick(["openid profile email", "read:orders write:orders", "openid offline_access",
                              "api.read api.write", "profile email tickets:write"])
    if email and chance(0.5):
        body["email"] = email
        body["email_verified"] = chance(0.8)
    if chance(0.3):
        body["roles"] = pick([["user"], ["user", "beta"], ["admin"], ["support-agent"], []])
    if chance(0.2):
        body["https://example.com/claims/tenant"] = pick(["acme", "globex", "initech", "umbrella"])
    sig_len = {"RS256": 256, "PS256": 256, "HS256": 32, "ES256": 64}[alg]
    return ".".join([b64u(json.dumps(hdr, separators=(",", ":")).encode()),
                     b64u(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()),
                     b64u(rbytes(sig_len))])


def cookie_header():
    parts = []
    if chance(0.7):
        parts.append(f"_ga=GA1.2.{R.randint(100000000, 2147483647)}.{epoch()}")
    if chance(0.4):
        parts.append(f"_gid=GA1.2.{R.randint(100000000, 2147483647)}.{epoch()}")
    parts.append(pick([f"sessionid={alnum(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}",
                       f"JSESSIONID={hexs(32).upper()}", f"PHPSESSID={alnum(26, 'abcdefghijklmnopqrstuv0123456789')}",
                       f"connect.sid=s%3A{alnum(32)}.{b64(rbytes(32)).rstrip('=')}",
                       f"__Host-session={b64u(rbytes(24))}", f"_session_id={hexs(32)}",
                       f"laravel_session={b64(rbytes(60)).replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}"]))
    if chance(0.4):
        prefs = {"theme": pick(["dark", "light", "system"]), "lang": pick(["en", "de", "fr", "ja"]),
                 "currency": pick(["USD", "EUR", "GBP"])}
        raw = json.dumps(prefs, separators=(",", ":"))
        parts.append("prefs=" + pick([urllib.parse.quote(raw, safe=""), b64(raw.encode())]))
    if chance(0.3):
        parts.append("cookie_consent=" + pick(["true", "accepted", urllib.parse.quote(json.dumps(
            {"necessary": True, "analytics": chance(0.5), "marketing": False}, separators=(",", ":")), safe="")]))
    if chance(0.2):
        parts.append(f"csrftoken={alnum(32)}")
    if chance(0.2):
        parts.append(f"XSRF-TOKEN={urllib.parse.quote(b64(rbytes(40)), safe='')}")
    if chance(0.15):
        parts.append(f"cart={urllib.parse.quote(json.dumps([{'sku': alnum(8).upper(), 'qty': R.randint(1, 3)}]), safe='')}")
    if chance(0.15):
        parts.append(f"ajs_anonymous_id=%22{uuid4()}%22")
    if chance(0.1):
        parts.append(f"last_search={urllib.parse.quote(pick(SEARCH_QUERIES))}")
    R.shuffle(parts)
    return "; ".join(parts)


def client():
    """Pick a client kind: browser, mobile app, or tool/SDK."""
    return pick(["browser"] * 5 + ["mobile"] * 3 + ["tool"] * 2)


def base_headers(kind, host, accept_json=True, referer_host=None, auth=True, email=None,
                 content_type=None, body=""):
    h = {"host": host}
    if kind == "browser":
        fam = R.random()
        if fam < 0.65:
            v = pick(CHROME_V)
            ua = pick(UA_BROWSER)(v)
            major = v.split(".")[0]
            if chance(0.7):
                h["sec-ch-ua"] = f"\"Chromium\";v=\"{major}\", \"Google Chrome\";v=\"{major}\", \"Not?A_Brand\";v=\"99\""
                h["sec-ch-ua-mobile"] = "?1" if "Mobile" in ua else "?0"
                h["sec-ch-ua-platform"] = pick(["\"Windows\"", "\"macOS\"", "\"Linux\"", "\"Android\""])
        elif fam < 0.85:
            ua = pick(UA_SAFARI)
        else:
            ua = pick(UA_FIREFOX)
        h["user-agent"] = ua
        h["accept"] = pick(ACCEPT_JSON) if accept_json else pick(ACCEPT_HTML)
        h["accept-language"] = pick(ACCEPT_LANG)
        h["accept-encoding"] = pick(["gzip, deflate, br", "gzip, deflate, br, zstd", "gzip, deflate"])
        ref = referer_host or pick(HOSTS_WEB)
        if chance(0.85):
            h["referer"] = f"https://{ref}" + pick(["/", "/account", "/orders", "/search?q=" + urllib.parse.quote_plus(pick(SEARCH_QUERIES)),
                                                    "/products/" + alnum(6).lower(), "/blog/" + pick(["hello-world", "release-notes-2-4", "how-we-cut-costs"]),
                                                    "/checkout/shipping", "/settings/profile", "/tickets/" + str(R.randint(1000, 99999))])
        if accept_json:
            h["origin"] = f"https://{ref}"
            h["sec-fetch-mode"] = "cors"
            h["sec-fetch-site"] = pick(["same-site", "same-origin", "cross-site"])
            h["sec-fetch-dest"] = "empty"
        else:
            h["sec-fetch-mode"] = "navigate"
            h["sec-fetch-dest"] = "document"
            h["upgrade-insecure-requests"] = "1"
        # A browser session is carried by a cookie or by a bearer token (SPA), rarely both.
        if auth and chance(0.55):
            h["cookie"] = cookie_header()
            auth = chance(0.1)
        elif not auth and chance(0.75):
            h["cookie"] = cookie_header()
        if chance(0.25):
            h["x-csrf-token"] = alnum(40)
        if accept_json and chance(0.3):
            h["x-requested-with"] = "XMLHttpRequest"
    elif kind == "mobile":
        h["user-agent"] = pick(UA_MOBILE_APP)
        h["accept"] = pick(ACCEPT_JSON[:4])
        h["accept-language"] = pick(["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "es-ES", "en-US;q=1.0, fr-US;q=0.9"])
        h["accept-encoding"] = pick(["gzip", "br;q=1.0, gzip;q=0.9, deflate;q=0.8", "gzip, deflate"])
        h["x-app-version"] = pick(["5.12.0", "5.11.3", "4.9.8", "812"])
        h["x-device-id"] = uuid4().upper() if chance(0.5) else hexs(16)
        if chance(0.3):
            h["x-platform"] = pick(["ios", "android"])
    else:
        h["user-agent"] = pick(UA_TOOL)
        h["accept"] = pick(["*/*", "application/json", "application/json, */*;q=0.5"])
        if chance(0.6):
            h["accept-encoding"] = pick(["gzip", "gzip, deflate", "gzip, deflate, br", "identity"])
        if chance(0.4):
            h["connection"] = "keep-alive"
    if auth:
        if kind == "tool" and chance(0.35):
            h["authorization"] = pick([f"Bearer sk_live_{alnum(24)}", f"Bearer {alnum(40)}",
                                       "Basic " + b64(f"{pick(['api', 'svc-reporting', 'deploy-bot'])}:{alnum(24)}".encode()),
                                       f"token ghp_{alnum(36)}"])
            if chance(0.2):
                h["x-api-key"] = alnum(40)
        else:
            h["authorization"] = "Bearer " + jwt(email)
    if content_type:
        h["content-type"] = content_type
        h["content-length"] = str(len(body.encode("utf-8")))
    if chance(0.6):
        h["x-request-id"] = pick([uuid4(), hexs(32), alnum(20)])
    if chance(0.45):
        n = R.randint(1, 3)
        h["x-forwarded-for"] = ", ".join(public_ip() if chance(0.9) else ipv6() for _ in range(n))
        if chance(0.5):
            h["x-forwarded-proto"] = "https"
    if chance(0.1):
        h["traceparent"] = f"00-{hexs(32)}-{hexs(16)}-01"
    if chance(0.05):
        h["if-none-match"] = f"W/\"{hexs(16)}\""
    if chance(0.04):
        h["cache-control"] = pick(["no-cache", "max-age=0"])
    return h


# ---------------------------------------------------------------------------------------------
# Content helpers.

def person():
    if chance(0.06):
        full = pick(CJK_NAMES)
        first, last = full, ""
    else:
        first, last = pick(FIRST), pick(LAST)
        full = f"{first} {last}"
    local = (first.lower().replace(" ", "").replace("'", "") if first.isascii() else alnum(6, "abcdefghijklmnopqrstuvwxyz"))
    last_ascii = last.lower().replace("'", "").replace(" ", "") if last.isascii() and last else alnum(5).lower()
    email = pick([f"{local}.{last_ascii}", f"{local}{R.randint(1, 99)}", f"{local[:1]}{last_ascii}",
                  f"{local}+{pick(['shop', 'news', 'work'])}", f"{last_ascii}.{local}"]) + "@" + pick(DOMAINS)
    if chance(0.05) and "'" in last:
        email = f"{first.lower()}.{last.lower().replace(' ', '')}@{pick(DOMAINS)}"  # o'brien@ is a valid address
    phone = pick([f"+1 ({R.randint(200, 989)}) 555-{R.randint(1000, 9999)}", f"+44 20 7946 {R.randint(1000, 9999)}",
                  f"+353 1 {R.randint(200, 999)} {R.randint(1000, 9999)}", f"+49 30 {R.randint(1000000, 9999999)}",
                  f"+81-3-{R.randint(1000, 9999)}-{R.randint(1000, 9999)}", f"0{R.randint(600000000, 799999999)}",
                  f"+1{R.randint(2000000000, 9899999999)}", f"555.{R.randint(100, 999)}.{R.randint(1000, 9999)}"])
    return first, last, full, email, phone


def address():
    city, cc, zipc = pick(CITIES)
    a = {"line1": f"{R.randint(1, 999)} {pick(STREETS)}", "city": city, "postal_code": zipc, "country": cc}
    if chance(0.3):
        a["line2"] = pick(["Apt 4B", "Suite 210", "Flat 3, 2nd floor", "c/o Reception", "Unit #12", "Bldg. C – Room 101"])
    if cc == "US" and chance(0.8):
        a["state"] = pick(["NY", "CA", "TX", "WA", "ID", "MA", "IL"])
    return a


def prose(n_min=1, n_max=3):
    s = " ".join(pick(SENTENCES) for _ in range(R.randint(n_min, n_max)))
    if chance(0.15):
        s += " " + pick(EMOJI)
    return s


def html_fragment():
    blocks = []
    for _ in range(R.randint(2, 6)):
        k = R.randrange(9)
        if k == 0:
            blocks.append(f"<p>{prose(1, 3)}</p>")
        elif k == 1:
            blocks.append(f"<h2>{pick(['Getting started', 'Release notes', 'What’s new in 2.4', 'FAQ', 'Our story', 'Shipping & returns'])}</h2>")
        elif k == 2:
            blocks.append("<ul>" + "".join(f"<li>{pick(PRODUCTS)}</li>" for _ in range(R.randint(2, 5))) + "</ul>")
        elif k == 3:
            blocks.append(f"<p>Read more on <a href=\"https://{pick(['docs.example.com/guide', 'blog.example.org/2024/05/launch', 'en.wikipedia.org/wiki/Rock_and_roll', 'github.com/example/project/releases'])}\" target=\"_blank\" rel=\"noopener noreferrer\">our site</a>.</p>")
        elif k == 4:
            blocks.append(f"<p><b>Note:</b> {pick(SENTENCES)} <i>{pick(SENTENCES)}</i></p>")
        elif k == 5:
            blocks.append(f"<figure><img src=\"https://cdn.example.com/img/{alnum(8).lower()}.{pick(['png', 'jpg', 'webp'])}\" alt=\"{pick(PRODUCTS)}\" width=\"{R.randint(300, 1200)}\" loading=\"lazy\"><figcaption>{pick(SENTENCES)}</figcaption></figure>")
        elif k == 6:
            blocks.append(f"<blockquote>{pick(SENTENCES)}</blockquote>")
        elif k == 7:
            lang, code = pick(CODE_SNIPPETS)
            code = code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            blocks.append(f"<pre><code class=\"language-{lang}\">{code}</code></pre>")
        else:
            blocks.append(f"<p style=\"text-align: center;\"><strong>{pick(SENTENCES)}</strong><br>{pick(EMOJI)}</p>")
    return "".join(blocks) if chance(0.5) else "\n".join(blocks)


def markdown_text(allow_sql=False, allow_shell=True):
    parts = [f"## {pick(['Steps to reproduce', 'Summary', 'Background', 'Update', 'Details'])}", prose(1, 2)]
    k = R.random()
    if k < 0.4:
        lang, code = pick(CODE_SNIPPETS)
        parts.append(f"```{lang}\n{code}\n```")
    elif k < 0.55 and allow_shell:
        parts.append(f"I ran `{pick(SHELL_SNIPPETS)}` and got the output below:\n\n```\n{pick(['Error: connection refused', 'total 48', 'permission denied', 'OK', '404 Not Found'])}\n```")
    elif k < 0.58 and allow_sql:
        parts.append(f"```sql\n{pick(SQL_SNIPPETS)}\n```")
    else:
        parts.append("- " + "\n- ".join(pick(SENTENCES) for _ in range(R.randint(2, 4))))
    if chance(0.4):
        parts.append(f"See [the docs](https://docs.example.com/{pick(['api/errors', 'guides/auth', 'faq#billing'])}) and ![screenshot](https://cdn.example.com/uploads/{uuid4()}.png)")
    if chance(0.1):
        parts.append(f"Related: [previous post](../{pick(['2023', '2024'])}/{pick(['hello-world', 'migration-notes'])}.md)")
    return "\n\n".join(parts)


def jdump(obj):
    style = R.random()
    if style < 0.7:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if style < 0.9:
        return json.dumps(obj, ensure_ascii=False)
    return json.dumps(obj, indent=2, ensure_ascii=True)


JSON_CT = ["application/json", "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"]
FORM_CT = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8"]


def req(method, host, path, kind=None, body="", ctype=None, accept_json=True, auth=True, email=None, extra=None, ua=None):
    kind = kind or client()
    h = base_headers(kind, host, accept_json=accept_json, auth=auth, email=email, content_type=ctype if body or ctype else None, body=body)
    if ua:
        h["user-agent"] = ua
    if extra:
        h.update(extra)
    return {"method": method, "path": path, "headers": h, "body": body}


# ---------------------------------------------------------------------------------------------
# Scenarios. Each returns one request dict. Weights below.

def s_users():
    host = pick(HOSTS_API)
    v = pick(["/api/v1", "/v1", "/api/v2", "/api"])
    uid = pick([str(R.randint(1, 999999)), uuid4(), "me"])
    k = R.random()
    first, last, full, email, phone = person()
    if k < 0.35:
        return req("GET", host, f"{v}/users/{uid}" + pick(["", "?include=addresses,orders", "?fields=id,name,email", "?expand[]=profile"]), email=email)
    if k < 0.55:
        pairs = [("page", R.randint(1, 40)), ("per_page", pick([10, 20, 25, 50, 100]))]
        if chance(0.6):
            pairs.append(("sort", pick(["-created_at", "name", "-last_login", "email,-id"])))
        if chance(0.5):
            pairs.append(("filter[status]", pick(["active", "invited", "suspended", "open"])))
        if chance(0.4):
            pairs.append(("fields", pick(["id,name", "id,name,email", "id,email,created_at,roles"])))
        if chance(0.4):
            pairs.append(("q", pick([full, last, email, first])))
        if chance(0.2):
            pairs.append(("created_after", iso_ts()))
        return req("GET", host, with_qs(f"{v}/users", pairs))
    if k < 0.75:
        body = {"name": full, "email": email, "phone": phone}
        if chance(0.7):
            body.update({"first_name": first, "last_name": last})
        if chance(0.5):
            body["address"] = address()
        if chance(0.4):
            body["preferences"] = {"newsletter": chance(0.5), "language": pick(["en", "fr", "de", "pt-BR", "ja"]),
                                   "timezone": pick(["Europe/Dublin", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo"])}
        if chance(0.3):
            body["bio"] = prose(1, 2)
        if chance(0.2):
            body["avatar_url"] = f"https://cdn.example.com/avatars/{uuid4()}.{pick(['png', 'jpg'])}"
        if chance(0.2):
            body["tags"] = [pick(["vip", "beta", "wholesale", "b2b", "newsletter"]) for _ in range(R.randint(1, 3))]
        b = jdump(body)
        return req(pick(["POST", "POST", "PUT", "PATCH"]), host, f"{v}/users" + ("" if chance(0.5) else f"/{uid}"), body=b, ctype=pick(JSON_CT), email=email)
    if k < 0.85:
        patch = pick([{"display_name": full}, {"phone": phone}, {"email": email}, {"address": address()},
                      {"notifications": {"email": True, "sms": False, "push": chance(0.5)}}, {"bio": prose(1, 1)},
                      {"website": f"https://{last.lower().replace(' ', '').replace(chr(39), '')}.example.com"}, {"status": "active"}])
        return req("PATCH", host, f"{v}/users/{uid}", body=jdump(patch), ctype=pick(JSON_CT + ["application/merge-patch+json"]), email=email)
    if k < 0.92:
        return req("DELETE", host, f"{v}/users/{uid}" + pick(["", "/sessions", f"/tokens/{alnum(8)}", f"/addresses/{R.randint(1, 99)}"]))
    return req("POST", host, f"{v}/users/{uid}/avatar", body=jdump({"image": "data:image/png;base64," + b64(rbytes(R.randint(60, 300)))}), ctype="application/json")


def s_orders():
    host = pick(HOSTS_API)
    v = pick(["/api/v1", "/v2", "/api"])
    k = R.random()
    oid = pick([str(R.randint(100000, 9999999)), f"ORD-{R.randint(2021, 2026)}-{R.randint(10000, 99999)}", uuid4()])
    if k < 0.3:
        pairs = []
        if chance(0.6):
            pairs.append(("status", pick(["shipped", "pending", "delivered", "cancelled", "refunded", "open"])))
        if chance(0.5):
            pairs += [("from", iso_date()), ("to", iso_date())]
        if chance(0.5):
            pairs.append(("sort", pick(["-created_at", "created_at", "-total"])))
        if chance(0.4):
            pairs += [("limit", pick([10, 20, 50])), ("cursor", b64u(json.dumps({"id": R.randint(1, 10 ** 6)}).encode()))]
        if chance(0.2):
            pairs.append(("filter[total][gte]", pick([10, 50, 100])))
        return req("GET", host, with_qs(f"{v}/orders", pairs))
    if k < 0.5:
        return req("GET", host, f"{v}/orders/{oid}" + pick(["", "/items", "/tracking", "/invoice.pdf", "/receipt", "?include=items,shipments"]))
    if k < 0.85:
        first, last, full, email, phone = person()
        items = [{"sku": f"{alnum(3).upper()}-{R.randint(1000, 9999)}", "name": pick(PRODUCTS), "quantity": R.randint(1, 5),
                  "unit_price": round(R.uniform(1, 500), 2), "currency": pick(["USD", "EUR", "GBP"]),
                  "options": pick([{}, {"size": pick(["S", "M", "L", "XL", "10", "9.5"])}, {"color": pick(["red", "black", "navy blue"])}])}
                 for _ in range(R.randint(1, 4))]
        body = {"customer": {"name": full, "email": email, "phone": phone}, "items": items,
                "shipping_address": address(), "billing_same_as_shipping": chance(0.7)}
        if chance(0.4):
            body["notes"] = pick(["Please leave at the back door; ring twice & wait.", "Gift wrap please — it's for my mom's birthday!",
                                  "Deliver after 5pm | call on arrival", "No rush. Thanks!", "Where is the cheapest shipping option?",
                                  "Drop it with the neighbour at no. 12 if I'm out.", "", prose(1, 1)])
        if chance(0.3):
            body["coupon"] = pick(["SAVE20", "WELCOME10", "FREESHIP", "BLACKFRIDAY-2024"])
        if chance(0.3):
            body["metadata"] = {"source": pick(["web", "ios", "android"]), "utm_campaign": pick(["spring_sale", "newsletter-05", "retargeting"])}
        return req("POST", host, f"{v}/orders", body=jdump(body), ctype=pick(JSON_CT), email=email,
                   extra={"idempotency-key": uuid4()} if chance(0.4) else None)
    if k < 0.93:
        return req(pick(["PATCH", "PUT"]), host, f"{v}/orders/{oid}", body=jdump(pick([{"status": "cancelled", "reason": pick(["Ordered by mistake", "Found a better price", "Where is my order? Too slow.", "Please cancel & refund"])},
                                                                                       {"shipping_address": address()}, {"gift_message": prose(1, 1)}])), ctype=pick(JSON_CT))
    return req("DELETE", host, f"{v}/orders/{oid}/items/{R.randint(1, 20)}")


def s_products():
    host = pick(HOSTS_API + HOSTS_WEB)
    k = R.random()
    if k < 0.4:
        pairs = [(pick(["q", "query", "search", "term", "keywords"]), pick(SEARCH_QUERIES))]
        if chance(0.5):
            pairs.append(("category", pick(CATEGORIES)))
        if chance(0.4):
            pairs += [("price_min", R.randint(0, 50)), ("price_max", R.randint(60, 2000))]
        if chance(0.4):
            pairs.append(("sort", pick(["relevance", "price_asc", "-price", "newest", "rating:desc"])))
        if chance(0.3):
            pairs.append(("in_stock", pick(["true", "1"])))
        if chance(0.3):
            pairs.append(("page", R.randint(1, 10)))
        return req("GET", host, with_qs(pick(["/api/products/search", "/search", "/api/v1/catalog/search", "/s"]), pairs))
    if k < 0.6:
        slug = pick(PRODUCTS).replace(" ", "-").replace("'", "").replace("&", "and").replace('"', "").lower()
        pid = pick([str(R.randint(1, 99999)), alnum(10).upper(), urllib.parse.quote(slug)])
        return req("GET", host, f"/api/products/{pid}"
                   + pick(["", "?currency=EUR", "?include=reviews", "/reviews?page=2&sort=-helpful", "/variants"]), auth=chance(0.3))
    if k < 0.8:
        first, last, full, email, phone = person()
        review = {"rating": R.randint(1, 5), "title": pick(["Love it", "Not bad", "Meh", "Exactly as described", "Broke after a week :(", "Best purchase of 2024!"]),
                  "body": prose(1, 4), "author": pick([full, first, f"{first} {last[:1]}."]), "verified_purchase": chance(0.7)}
        if chance(0.2):
            review["images"] = [f"https://cdn.example.com/reviews/{uuid4()}.jpg"]
        return req("POST", host, f"/api/products/{R.randint(1, 99999)}/reviews", body=jdump(review), ctype=pick(JSON_CT), email=email)
    body = {"name": pick(PRODUCTS), "description": html_fragment() if chance(0.5) else prose(1, 3), "price": round(R.uniform(1, 999), 2),
            "sku": f"{alnum(3).upper()}-{R.randint(1000, 9999)}", "categories": [pick(CATEGORIES)], "stock": R.randint(0, 500),
            "images": [f"https://cdn.example.com/img/{alnum(10).lower()}.{pick(['png', 'jpg', 'webp'])}" for _ in range(R.randint(1, 3))],
            "attributes": {"weight_kg": round(R.uniform(0.1, 20), 2), "dimensions": f"{R.randint(5, 90)}x{R.randint(5, 90)}x{R.randint(1, 40)} cm"}}
    return req(pick(["POST", "PUT", "PATCH"]), host, "/api/admin/products" + ("" if chance(0.5) else f"/{R.randint(1, 99999)}"), body=jdump(body), ctype=pick(JSON_CT), kind=pick(["browser", "tool"]))


def s_comments():
    host = pick(HOSTS_API)
    pid = R.randint(1, 200000)
    k = R.random()
    if k < 0.3:
        return req("GET", host, with_qs(f"/api/posts/{pid}/comments", [("page", R.randint(1, 5)), ("sort", pick(["newest", "oldest", "top"]))]), auth=chance(0.5))
    first, last, full, email, phone = person()
    text = prose(1, 3)
    if chance(0.2):
        text = pick(["@" + first.lower() + " " + text, text + " #" + pick(["release", "feedback", "bug", "love"]),
                     text + "\n\n> " + pick(SENTENCES)])
    if chance(0.1):
        text += f" See https://{pick(['youtu.be/dQw4w9WgXcQ', 'imgur.com/a/' + alnum(7), 'github.com/example/app/issues/' + str(R.randint(1, 5000))])}"
    body = {"body": text, "parent_id": pick([None, R.randint(1, 10 ** 6)])}
    if chance(0.3):
        body["format"] = pick(["plain", "markdown"])
    if k < 0.85:
        return req("POST", host, f"/api/posts/{pid}/comments", body=jdump(body), ctype=pick(JSON_CT), email=email)
    if k < 0.95:
        return req("PATCH", host, f"/api/comments/{R.randint(1, 10 ** 6)}", body=jdump({"body": text}), ctype=pick(JSON_CT))
    return req("DELETE", host, f"/api/comments/{R.randint(1, 10 ** 6)}")


def s_tickets():
    host = pick(["api.helpdesk.example.net", "support.example.com", "api.example.com"])
    k = R.random()
    first, last, full, email, phone = person()
    if k < 0.2:
        pairs = [("filter[status]", pick(["open", "pending", "solved", "closed"])), ("sort", pick(["-updated_at", "priority"]))]
        if chance(0.4):
            pairs.append(("assignee", pick(["me", "unassigned", email])))
        if chance(0.3):
            pairs.append(("q", pick(SEARCH_QUERIES)))
        return req("GET", host, with_qs("/api/v2/tickets", pairs))
    desc = pick([prose(2, 5), markdown_text(allow_sql=True), markdown_text(), prose(1, 2) + "\n\n" + pick(["Thanks,\n-- \n" + full, "Cheers, " + first, "Regards\n" + full + "\n" + phone])])
    if chance(0.05):
        desc += "\n\nThe file is at " + pick(["C:\\Users\\" + first.replace(" ", "") + "\\Documents\\invoice-2024.pdf", "~/Downloads/report-2024.pdf", "/Users/" + first.lower().replace(" ", "") + "/Desktop/screenshot.png", "D:\\Exports\\orders_march.csv"])
    ticket = {"subject": pick(["Can't log in", "Where is my order?", "Refund request for order #" + str(R.randint(10000, 99999)),
                               "Delete my account", "Update billing address", "Bug: app crashes on save", "Question about select plan",
                               "Drop shipping partnership", "Wrong item received", "Invoice needed (VAT)", "2FA not working", "API returns 500 on /v1/orders"]),
              "description": desc, "priority": pick(["low", "normal", "high", "urgent"]),
              "requester": {"name": full, "email": email}}
    if chance(0.4):
        ticket["attachments"] = [{"filename": pick(["report-2024.pdf", "screenshot 2024-05-01 at 10.32.11.png", "IMG_2931.HEIC", "invoice_#4521.pdf",
                                                    "logs (1).txt", "Résumé – Müller.docx", "export.csv", "har-capture.har"]),
                                  "url": f"https://uploads.example.com/{uuid4()}", "size": R.randint(1000, 5_000_000)}]
    if chance(0.3):
        ticket["custom_fields"] = [{"id": R.randint(1000, 9999), "value": pick(["web", "ios", "android", "v5.12.0", True, 3])}]
    if k < 0.7:
        return req("POST", host, "/api/v2/tickets", body=jdump({"ticket": ticket} if chance(0.5) else ticket), ctype=pick(JSON_CT), email=email)
    if k < 0.9:
        return req("POST", host, f"/api/v2/tickets/{R.randint(1000, 999999)}/comments",
                   body=jdump({"body": desc, "public": chance(0.7), "author_id": R.randint(1, 10 ** 6)}), ctype=pick(JSON_CT))
    return req("PUT", host, f"/api/v2/tickets/{R.randint(1000, 999999)}", body=jdump({"status": pick(["solved", "pending"]), "tags": ["billing", "vip"][:R.randint(0, 2)]}), ctype=pick(JSON_CT))


def s_cms():
    host = pick(["api.blogly.dev", "cms.example.com", "blog.example.org", "api.example.com"])
    slug = pick(["hello-world", "release-notes-2-4", "how-we-cut-cloud-costs-by-40", "rock-n-roll-history", "union-station-renovation",
                 "select-the-right-plan", "drop-shipping-101", "where-is-my-order-faq", "o-brien-family-recipes", "café-au-lait"]) + f"-{R.randint(1, 999)}"
    k = R.random()
    if k < 0.25:
        return req("GET", host, with_qs("/api/posts", [("status", pick(["published", "draft"])), ("tag", pick(["news", "engineering", "recipes"])),
                                                       ("limit", pick([10, 20])), ("fields", "id,title,slug,published_at")]), auth=chance(0.5))
    title = pick(["Hello, world!", "Release notes: v2.4", "How we cut cloud costs by 40%", "A short history of rock 'n' roll",
                  "Union Station gets a makeover", "Select the right plan for your team", "Drop shipping 101: what to know",
                  "Where is my order? Our new tracking page", "The O'Briens' family recipes", "Café au lait, à la française",
                  "10 tips & tricks for SQL beginners", "Why we moved from cron to queues", "東京のおすすめカフェ", "Q&A with our CEO"])
    if chance(0.5):
        content = html_fragment()
        fmt = "html"
    else:
        content = markdown_text(allow_sql=chance(0.3))
        fmt = "markdown"
    post = {"title": title, "slug": slug, "content": content, "format": fmt, "excerpt": pick(SENTENCES),
            "tags": [pick(["news", "engineering", "recipes", "music", "travel", "product"]) for _ in range(R.randint(0, 3))],
            "status": pick(["draft", "published", "scheduled"]), "author_id": R.randint(1, 500)}
    if post["status"] == "scheduled":
        post["publish_at"] = iso_ts()
    if chance(0.5):
        post["featured_image"] = f"https://cdn.example.com/img/{alnum(10).lower()}.jpg"
    if chance(0.3):
        post["seo"] = {"meta_title": title + " | Blogly", "meta_description": pick(SENTENCES), "canonical_url": f"https://blog.example.org/{slug}"}
    if k < 0.7:
        return req("POST", host, "/api/posts", body=jdump(post), ctype=pick(JSON_CT), kind="browser")
    if k < 0.95:
        return req(pick(["PUT", "PATCH"]), host, f"/api/posts/{slug}", body=jdump(post), ctype=pick(JSON_CT), kind="browser")
    return req("DELETE", host, f"/api/posts/{slug}", kind="browser")


def s_forms():
    host = pick(HOSTS_WEB)
    first, last, full, email, phone = person()
    k = R.random()
    if k < 0.25:
        pw = pick(["correct horse battery staple", "P@ssw0rd!2024", "hunter2", f"{alnum(12)}!", "S3cure#Pass&Word", "my dog's name is Rex",
                   "Tr0ub4dor&3", "letmein123", "!QAZ2wsx#EDC", "sommer2024?", "pa$$w0rd", "Kx9;pL-2", "a\"b'c"])
        pairs = [("username", pick([email, first.lower(), f"{first.lower()}.{last.lower()}" if last else full])), ("password", pw)]
        if chance(0.6):
            pairs.append(("csrfmiddlewaretoken" if chance(0.5) else "_token", alnum(64)))
        if chance(0.4):
            pairs.append(("remember_me", pick(["on", "1", "true"])))
        if chance(0.3):
            pairs.append(("next", pick(["/account", "/orders?status=open", "https://app.example.com/dashboard", "/checkout/payment"])))
        body = enc_form(pairs)
        return req("POST", host, pick(["/login", "/accounts/login/", "/auth/signin", "/session"]), body=body, ctype=pick(FORM_CT), accept_json=False, auth=False, kind="browser")
    if k < 0.5:
        pairs = [("name", full), ("email", email), ("phone", phone), ("subject", pick(["Question", "Where is my order?", "Partnership", "Feedback", "Delete my account"])),
                 ("message", prose(1, 4))]
        if chance(0.3):
            pairs.append(("company", pick(["Acme Corp", "O'Reilly Media", "Ben & Jerry's", "Procter & Gamble", "AT&T", "Müller GmbH", "Smith, Jones & Co."])))
        if chance(0.3):
            pairs.append(("g-recaptcha-response", alnum(400, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")))
        return req("POST", host, pick(["/contact", "/contact-us/submit", "/forms/feedback", "/support/new"]), body=enc_form(pairs), ctype=pick(FORM_CT), accept_json=chance(0.3), auth=False, kind="browser")
    if k < 0.7:
        a = address()
        pairs = [("first_name", first), ("last_name", last), ("address1", a["line1"]), ("address2", a.get("line2", "")), ("city", a["city"]),
                 ("zip", a["postal_code"]), ("country", a["country"]), ("phone", phone), ("email", email)]
        if chance(0.4):
            pairs.append(("delivery_instructions", pick(["Leave by the side door; dog is friendly", "Ring bell & wait", "Call 10 min before | no weekends", ""])))
        return req("POST", host, pick(["/checkout/shipping", "/cart/checkout/address", "/account/addresses"]), body=enc_form(pairs), ctype=pick(FORM_CT), accept_json=False, auth=False, kind="browser")
    if k < 0.8:
        pairs = [("email", email), ("list", pick(["weekly", "deals", "product-updates"])), ("source", pick(["footer", "popup", "blog"]))]
        return req("POST", host, "/newsletter/subscribe", body=enc_form(pairs), ctype=pick(FORM_CT), auth=False, kind="browser")
    if k < 0.9:
        # Stripe-like bracketed form encoding from server SDKs
        pairs = [("amount", R.randint(100, 100000)), ("currency", pick(["usd", "eur", "gbp"])), ("description", f"Order {R.randint(10000, 99999)} — {pick(PRODUCTS)}"),
                 ("metadata[order_id]", R.randint(10000, 99999)), ("metadata[customer_name]", full), ("receipt_email", email),
                 ("payment_method_types[]", "card"), ("automatic_payment_methods[enabled]", "true")]
        return req("POST", "api.payments.example.com", "/v1/payment_intents", body=enc_form(pairs), ctype="application/x-www-form-urlencoded", kind="tool",
                   extra={"idempotency-key": uuid4(), "stripe-version": "2024-04-10"},
                   ua=pick(["Stripe/v1 RubyBindings/10.12.0", "Stripe/v1 PythonBindings/9.6.0", "Stripe/v1 NodeBindings/15.5.0", "Stripe/v1 GoBindings/v78.6.0"]))
    # search form GET from a browser
    q = pick(SEARCH_QUERIES)
    return req("GET", host, with_qs(pick(["/search", "/help/search", "/s", "/find"]), [("q", q)] + ([("lang", pick(["en", "de", "fr"]))] if chance(0.3) else []), style=enc_form),
               accept_json=False, auth=False, kind="browser")


def s_search_api():
    host = pick(HOSTS_API)
    q = pick(SEARCH_QUERIES) if chance(0.7) else pick(SENTENCES)
    pairs = [(pick(["q", "query", "text", "term", "s"]), q)]
    if chance(0.3):
        pairs.append(("type", pick(["posts", "users", "products", "all"])))
    if chance(0.3):
        pairs.append(("highlight", "true"))
    if chance(0.3):
        pairs.append(("locale", pick(["en-US", "de-DE", "ja-JP", "fr-FR"])))
    k = R.random()
    if k < 0.75:
        return req("GET", host, with_qs(pick(["/api/search", "/v1/search", "/api/v2/search/suggest", "/autocomplete"]), pairs))
    body = {"query": q, "filters": {"category": [pick(CATEGORIES)], "price": {"gte": 0, "lte": R.randint(50, 500)}},
            "page": {"size": 20, "number": R.randint(1, 5)}, "sort": [{"field": "relevance", "order": "desc"}]}
    return req("POST", host, "/api/search", body=jdump(body), ctype=pick(JSON_CT))


def s_files_urls():
    host = pick(HOSTS_API)
    k = R.random()
    fname = pick(["report-2024.pdf", "Q3 results (final).xlsx", "invoice_00451.pdf", "photo.jpg", "a.png", "résumé.pdf", "data export 2024-05-01.csv",
                  "contract v2 - signed.pdf", "logo@2x.png", "backup.tar.gz", "notes.md", "presentation.key", "IMG_20240501_101532.jpg"])
    if k < 0.25:
        return req("GET", host, f"/api/files/{urllib.parse.quote(fname)}" + pick(["", "?download=1", "?version=3", f"?token={alnum(32)}"]))
    if k < 0.45:
        url = pick(["https://cdn.example.com/img/a.png", f"https://images.unsplash.com/photo-{R.randint(10 ** 12, 10 ** 13)}?w=800&q=80",
                    f"https://s3.amazonaws.com/example-bucket/uploads/{uuid4()}/{fname}", "https://upload.wikimedia.org/wikipedia/commons/a/a9/Example.jpg",
                    f"https://www.youtube.com/watch?v={alnum(11)}", "https://example.com/feed.xml", f"https://github.com/example/repo/blob/main/README.md"])
        pairs = [(pick(["url", "image_url", "src", "link", "source"]), url)]
        if chance(0.4):
            pairs += [("w", pick([64, 128, 256, 800])), ("format", pick(["webp", "avif", "png"]))]
        return req("GET", host, with_qs(pick(["/api/preview", "/api/link-unfurl", "/img/resize", "/api/oembed"]), pairs))
    if k < 0.65:
        hook = pick(PUBLIC_HOSTS) + alnum(24)
        body = {"url": hook, "events": [pick(["order.created", "order.paid", "ticket.updated", "user.deleted", "invoice.finalized"]) for _ in range(R.randint(1, 3))],
                "secret": "whsec_" + alnum(32), "active": True, "description": pick(["Slack alerts", "Sync to ERP", "Zapier", "", "PagerDuty for P1s"])}
        return req("POST", host, pick(["/api/v1/webhooks", "/v1/webhook_endpoints", "/api/integrations/webhooks"]), body=jdump(body), ctype=pick(JSON_CT))
    if k < 0.8:
        body = {"filename": fname, "content_type": pick(["application/pdf", "image/png", "text/csv", "image/jpeg"]), "size": R.randint(1000, 10 ** 7),
                "checksum": b64(hashlib.md5(rbytes(16)).digest())}
        return req("POST", host, "/api/uploads/presign", body=jdump(body), ctype=pick(JSON_CT))
    if k < 0.9:
        body = {"name": fname, "content_base64": b64(rbytes(R.randint(48, 600)))}
        return req("POST", host, "/api/attachments", body=jdump(body), ctype="application/json")
    # callback after upload from a worker
    return req("POST", host, "/api/uploads/complete", body=jdump({"key": f"uploads/{uuid4()}/{fname}", "etag": f"\"{hexs(32)}\"", "bucket": "example-user-uploads"}),
               ctype="application/json", kind="tool")


def s_graphql():
    host = pick(HOSTS_API)
    k = R.random()
    uid = str(R.randint(1, 10 ** 6))
    if k < 0.35:
        q = "query GetUser($id: ID!) { user(id: $id) { id name email avatarUrl(size: 64) } }"
        var = {"id": uid}
        op = "GetUser"
    elif k < 0.55:
        q = "query SearchProducts($q: String!, $first: Int = 20, $after: String) {\n  products(query: $q, first: $first, after: $after) {\n    edges { node { id title price { amount currency } } }\n    pageInfo { hasNextPage endCursor }\n  }\n}"
        var = {"q": pick(SEARCH_QUERIES), "first": 20, "after": b64(("cursor:" + str(R.randint(1, 999))).encode())}
        op = "SearchProducts"
    elif k < 0.75:
        q = "mutation AddComment($input: AddCommentInput!) { addComment(input: $input) { comment { id body createdAt } errors { field message } } }"
        var = {"input": {"postId": uid, "body": prose(1, 2), "clientMutationId": uuid4()}}
        op = "AddComment"
    elif k < 0.85:
        q = "mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { user { id displayName bio } } }"
        first, last, full, email, phone = person()
        var = {"input": {"displayName": full, "bio": prose(1, 1), "location": pick(CITIES)[0]}}
        op = "UpdateProfile"
    elif k < 0.93:
        q = "query Orders($status: [OrderStatus!], $from: DateTime) { viewer { orders(status: $status, createdAfter: $from, first: 10) { nodes { id total status items { name quantity } } } } }"
        var = {"status": ["SHIPPED", "DELIVERED"], "from": iso_ts()}
        op = "Orders"
    else:
        # persisted query via GET, as Apollo clients send it
        ext = {"persistedQuery": {"version": 1, "sha256Hash": hexs(64)}}
        pairs = [("operationName", "GetUser"), ("variables", json.dumps({"id": uid}, separators=(",", ":"))), ("extensions", json.dumps(ext, separators=(",", ":")))]
        return req("GET", host, with_qs("/graphql", pairs, style=pick([enc_form, enc_uri_component])), extra={"apollographql-client-name": "web", "apollographql-client-version": "1.42.0"})
    body = {"operationName": op, "query": q, "variables": var} if chance(0.7) else {"query": q, "variables": var}
    return req("POST", host, pick(["/graphql", "/api/graphql", "/v1/graphql"]), body=jdump(body), ctype=pick(JSON_CT))


def s_oauth():
    idp = pick(["auth.example.com", "login.example.com", "acme.eu.auth0.com", "id.example.org"])
    k = R.random()
    redirect = pick(["https://app.example.com/callback", "https://app.example.com/auth/callback?next=%2Fdashboard", "com.shopfront.app://oauth/callback",
                     "http://localhost:3000/api/auth/callback/example", "https://dashboard.acme-corp.io/oidc/callback", "https://www.example.com/signin-oidc"])
    if k < 0.35:
        pairs = [("response_type", pick(["code", "code", "code id_token"])), ("client_id", pick([alnum(32), uuid4(), "shopfront-web"])),
                 ("redirect_uri", redirect), ("scope", pick(["openid profile email", "openid profile email offline_access", "read:orders write:orders", "openid"])),
                 ("state", b64u(rbytes(24))), ("nonce", alnum(32))]
        if chance(0.7):
            pairs += [("code_challenge", b64u(hashlib.sha256(rbytes(32)).digest())), ("code_challenge_method", "S256")]
        if chance(0.3):
            pairs.append(("prompt", pick(["login", "consent", "none", "select_account"])))
        if chance(0.2):
            pairs.append(("login_hint", person()[3]))
        if chance(0.2):
            pairs.append(("ui_locales", pick(["en", "de fr", "ja"])))
        R.shuffle(pairs)
        return req("GET", idp, with_qs(pick(["/authorize", "/oauth2/authorize", "/protocol/openid-connect/auth", "/oauth/authorize"]), pairs, style=pick([enc_form, enc_quote])),
                   accept_json=False, auth=False, kind="browser")
    if k < 0.45:
        pairs = [("code", alnum(R.choice([20, 32, 43]))), ("state", b64u(rbytes(24)))]
        if chance(0.3):
            pairs.append(("session_state", f"{uuid4()}.{alnum(8)}"))
        if chance(0.1):
            pairs = [("error", "access_denied"), ("error_description", "The user denied the request"), ("state", b64u(rbytes(24)))]
        h = pick(["app.example.com", "dashboard.acme-corp.io", "www.example.com"])
        return req("GET", h, with_qs(pick(["/callback", "/auth/callback", "/oidc/callback"]), pairs), accept_json=False, auth=False, kind="browser")
    if k < 0.75:
        g = R.random()
        if g < 0.5:
            pairs = [("grant_type", "authorization_code"), ("code", alnum(32)), ("redirect_uri", redirect), ("client_id", alnum(32)), ("code_verifier", b64u(rbytes(32)))]
        elif g < 0.8:
            pairs = [("grant_type", "refresh_token"), ("refresh_token", pick([alnum(64), "v1." + alnum(120, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")])), ("client_id", alnum(32))]
        else:
            pairs = [("grant_type", "client_credentials"), ("scope", pick(["api.read", "orders:read orders:write", "https://graph.example.com/.default"])),
                     ("client_id", uuid4()), ("client_secret", alnum(40))]
        extra = {"authorization": "Basic " + b64(f"{alnum(24)}:{alnum(40)}".encode())} if chance(0.3) else None
        return req("POST", idp, pick(["/oauth/token", "/oauth2/token", "/protocol/openid-connect/token", "/token"]), body=enc_form(pairs),
                   ctype="application/x-www-form-urlencoded", auth=False, kind=pick(["tool", "mobile", "browser"]), extra=extra)
    if k < 0.85:
        return req("GET", idp, pick(["/.well-known/openid-configuration", "/.well-known/jwks.json", "/userinfo", "/oauth2/v1/keys"]), auth=chance(0.4), kind=pick(["tool", "browser"]))
    if k < 0.93:
        pairs = [("id_token_hint", jwt()), ("post_logout_redirect_uri", pick(["https://app.example.com/", "https://www.example.com/logged-out"])), ("state", alnum(16))]
        return req("GET", idp, with_qs("/logout", pairs), accept_json=False, auth=False, kind="browser")
    return req("POST", idp, "/oauth/revoke", body=enc_form([("token", alnum(64)), ("token_type_hint", "refresh_token")]), ctype="application/x-www-form-urlencoded", auth=False, kind="tool")


def s_analytics():
    k = R.random()
    page = pick(["https://www.example.com/", "https://shop.example.com/products/wireless-earbuds?color=black", "https://blog.example.org/2024/05/rock-n-roll-history",
                 "https://www.example.com/search?q=where+is+my+order", "https://help.example.net/articles/360001234-How-do-I-delete-my-account-",
                 "https://shop.example.com/checkout/thank-you?order=" + str(R.randint(10000, 99999))])
    title = pick(["Home | Example", "Wireless Earbuds – Shop", "A short history of rock 'n' roll", "Search: where is my order", "How do I delete my account?", "Thank you!"])
    if k < 0.35:
        pairs = [("v", "2"), ("tid", "G-" + alnum(10).upper()), ("gtm", "45je" + alnum(4).lower()), ("_p", R.randint(10 ** 9, 10 ** 10)),
                 ("cid", f"{R.randint(10 ** 8, 10 ** 10)}.{epoch()}"), ("ul", pick(["en-us", "de-de", "fr-fr"])), ("sr", pick(["1920x1080", "390x844", "1440x900"])),
                 ("en", pick(["page_view", "scroll", "click", "view_item", "purchase"])), ("dl", page), ("dt", title), ("_s", R.randint(1, 9))]
        if chance(0.5):
            pairs.append(("dr", pick(["https://www.google.com/", "https://t.co/" + alnum(10), "android-app://com.google.android.gm/", ""])))
        if chance(0.3):
            pairs += [("ep.search_term", pick(SEARCH_QUERIES))]
        return req("POST" if chance(0.5) else "GET", pick(["region1.google-analytics.com", "www.google-analytics.com", "analytics.example.com"]),
                   with_qs("/g/collect", pairs, style=enc_uri_component), accept_json=False, auth=False, kind="browser")
    if k < 0.55:
        land = page + ("&" if "?" in page else "?") + enc_form([("utm_source", pick(["newsletter", "google", "facebook", "twitter", "partner_site"])),
                                                                ("utm_medium", pick(["email", "cpc", "social", "referral"])),
                                                                ("utm_campaign", pick(["spring_sale_2024", "black-friday", "welcome series", "rock 'n' roll week"])),
                                                                ("utm_content", pick(["hero-cta", "footer link", "banner_v2"])), ("utm_term", pick(SEARCH_QUERIES))])
        data = {"event": "page_view", "url": land, "title": title, "ts": epoch() * 1000, "anonymous_id": uuid4(), "screen": {"w": 1440, "h": 900}}
        enc = pick(["json", "b64"])
        val = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        pairs = [("d" if enc == "json" else "data", val if enc == "json" else b64(val.encode())), ("v", "1"), ("_", str(epoch() * 1000 + R.randint(0, 999)))]
        return req("GET", pick(["t.example.com", "analytics.example.com", "api.segment.io"]), with_qs(pick(["/pixel.gif", "/v1/p", "/i"]), pairs), accept_json=False, auth=False, kind="browser")
    if k < 0.85:
        events = []
        for _ in range(R.randint(1, 5)):
            events.append({"type": pick(["track", "page", "identify"]), "event": pick(["Product Viewed", "Order Completed", "Signed Up", "Search Performed", "Button Clicked"]),
                           "properties": {"product": pick(PRODUCTS), "price": round(R.uniform(1, 300), 2), "query": pick(SEARCH_QUERIES), "path": "/" + pick(["", "cart", "search"])},
                           "context": {"page": {"url": page, "title": title, "referrer": "https://www.google.com/"}, "locale": "en-US",
                                       "userAgent": pick(UA_SAFARI)}, "messageId": uuid4(), "timestamp": iso_ts(), "anonymousId": uuid4()})
        return req("POST", pick(["api.segment.io", "events.example.com", "collector.example.com"]), pick(["/v1/batch", "/v1/t", "/collect"]),
                   body=jdump({"batch": events, "sentAt": iso_ts(), "writeKey": alnum(32)}), ctype=pick(["application/json", "text/plain;charset=UTF-8"]), auth=False, kind="browser")
    # RUM / error reporting beacon
    body = {"type": pick(["web-vitals", "error"]), "name": pick(["LCP", "CLS", "INP", "TypeError"]), "value": round(R.uniform(0, 4000), 3),
            "message": pick(["Cannot read properties of undefined (reading 'map')", "NetworkError when attempting to fetch resource.", "ResizeObserver loop limit exceeded", ""]),
            "stack": pick(["", "TypeError: Cannot read properties of undefined (reading 'map')\n    at ProductList (https://shop.example.com/static/js/main.3f2a1c.js:2:10423)\n    at renderWithHooks (https://shop.example.com/static/js/vendor.js:1:88231)"]),
            "url": page, "release": f"web@{R.randint(1, 9)}.{R.randint(0, 30)}.{R.randint(0, 9)}"}
    return req("POST", pick(["rum.example.com", "o4505.ingest.sentry.io", "errors.example.com"]), pick(["/api/4505/envelope/", "/rum", "/v1/metrics"]),
               body=jdump(body), ctype=pick(["text/plain;charset=UTF-8", "application/json"]), auth=False, kind="browser")


def s_s3():
    bucket = pick(["example-user-uploads", "acme-reports-prod", "shopfront-media", "my-bucket"])
    region = pick(["us-east-1", "eu-west-1", "ap-northeast-1"])
    key = pick([f"uploads/{uuid4()}/report-2024.pdf", f"avatars/{R.randint(1, 10 ** 6)}.png", f"exports/orders_{iso_date()}.csv",
                f"media/2024/05/{alnum(12).lower()}.jpg", f"invoices/INV-{R.randint(10000, 99999)}.pdf"])
    date = iso_date().replace("-", "")
    pairs = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"AKIA{alnum(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}/{date}/{region}/s3/aws4_request"),
             ("X-Amz-Date", f"{date}T{R.randint(0, 23):02d}{R.randint(0, 59):02d}{R.randint(0, 59):02d}Z"), ("X-Amz-Expires", pick(["300", "900", "3600", "604800"])),
             ("X-Amz-SignedHeaders", pick(["host", "content-type;host"]))]
    if chance(0.3):
        pairs.append(("X-Amz-Security-Token", b64(rbytes(R.randint(200, 500)))))
    if chance(0.3):
        pairs.append(("response-content-disposition", f"attachment; filename=\"{key.rsplit('/', 1)[1]}\""))
    pairs.append(("X-Amz-Signature", hexs(64)))
    host = pick([f"{bucket}.s3.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"])
    path = ("/" if host.startswith(bucket) else f"/{bucket}/") + key
    if chance(0.65):
        return req("GET", host, with_qs(path, pairs, style=enc_quote), auth=False, kind=pick(["browser", "tool"]), accept_json=False)
    body = pick(["", "id,name,total\n1,O'Brien,19.99\n2,\"Smith, J.\",5.00\n", "%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"])
    return req("PUT", host, with_qs(path, pairs, style=enc_quote), body=body, ctype=pick(["application/pdf", "text/csv", "image/png", "application/octet-stream"]), auth=False, kind=pick(["browser", "tool"]))


def s_mobile():
    host = pick(["api.shopfront.io", "mobile-api.example.com", "api.example.com"])
    k = R.random()
    if k < 0.3:
        body = {"device_id": uuid4().upper(), "platform": pick(["ios", "android"]), "push_token": pick([hexs(64), f"{alnum(11)}:APA91b{alnum(134, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}"]),
                "app_version": pick(["5.12.0", "5.11.3"]), "locale": pick(["en_US", "de_DE", "ja_JP", "pt_BR"]),
                "timezone": pick(["Europe/Dublin", "America/Chicago", "Asia/Tokyo"])}
        if body["platform"] == "ios":
            body.update({"os_version": pick(["17.5.1", "17.4", "16.7.8"]), "model": pick(["iPhone15,2", "iPhone14,5", "iPad13,18"])})
        else:
            body.update({"os_version": pick(["14", "13", "12"]), "model": pick(["Pixel 8", "SM-S918B", "moto g(30)"])})
        return req("POST", host, "/v1/devices", body=jdump(body), ctype="application/json", kind="mobile")
    if k < 0.6:
        return req("GET", host, with_qs(pick(["/v1/feed", "/v1/home", "/v2/recommendations", "/v1/notifications"]),
                                        [("limit", 20), ("since", iso_ts())] + ([("lat", round(R.uniform(-60, 60), 6)), ("lng", round(R.uniform(-120, 140), 6))] if chance(0.4) else [])), kind="mobile")
    if k < 0.8:
        body = {"events": [{"name": pick(["app_open", "screen_view", "add_to_cart", "purchase"]), "ts": epoch() * 1000, "params": {"screen": pick(["Home", "Cart", "Product", "Settings"]), "value": round(R.uniform(0, 200), 2)}}
                           for _ in range(R.randint(1, 6))], "session_id": uuid4(), "battery": round(R.random(), 2), "network": pick(["wifi", "cellular", "5g"])}
        return req("POST", host, "/v1/telemetry", body=jdump(body), ctype="application/json", kind="mobile", auth=chance(0.5))
    if k < 0.9:
        body = {"latitude": round(R.uniform(-60, 60), 6), "longitude": round(R.uniform(-120, 140), 6), "accuracy": R.randint(3, 80), "recorded_at": iso_ts()}
        return req("PUT", host, "/v1/me/location", body=jdump(body), ctype="application/json", kind="mobile")
    return req("DELETE", host, f"/v1/devices/{uuid4().upper()}", kind="mobile")


def s_calendar():
    host = pick(HOSTS_API)
    k = R.random()
    if k < 0.4:
        return req("GET", host, with_qs("/api/v1/events", [("start", iso_ts()), ("end", iso_ts()), ("tz", pick(["Europe/Dublin", "America/New_York", "UTC"])), ("calendar_id", uuid4())]))
    first, last, full, email, phone = person()
    ev = {"title": pick(["Team sync", "1:1 w/ " + first, "Union meeting", "Dinner @ D'Angelo's", "Dentist 🦷", "Q3 planning | all hands", "Lunch & learn: SQL basics"]),
          "description": prose(1, 2), "start": iso_ts(), "end": iso_ts(), "location": pick(["Room 4.12", "https://meet.example.com/abc-defg-hij", f"{R.randint(1, 200)} {pick(STREETS)}, {pick(CITIES)[0]}", "Zoom"]),
          "attendees": [{"email": person()[3], "optional": chance(0.2)} for _ in range(R.randint(1, 4))]}
    if chance(0.3):
        ev["recurrence"] = [pick(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1;COUNT=12", "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20241231T000000Z"])]
    if chance(0.2):
        ev["reminders"] = [{"method": "popup", "minutes": 10}, {"method": "email", "minutes": 1440}]
    if k < 0.8:
        return req("POST", host, "/api/v1/events", body=jdump(ev), ctype=pick(JSON_CT), email=email)
    return req(pick(["PATCH", "DELETE"]), host, f"/api/v1/events/{uuid4()}" + pick(["", "?notify=true", "?scope=this_and_following"]),
               body=jdump({"start": iso_ts(), "end": iso_ts()}) if chance(0.5) else "", ctype=None)


def s_messages():
    host = pick(["chat.example.com", "api.example.com", "api.helpdesk.example.net"])
    k = R.random()
    if k < 0.25:
        return req("GET", host, with_qs(f"/api/conversations/{uuid4()}/messages", [("before", iso_ts()), ("limit", 50)]))
    text = pick([prose(1, 2), pick(SENTENCES) + " " + pick(EMOJI), pick(EMOJI) * R.randint(1, 3), "ok", "thx!", "lol", "sounds good 👍",
                 "see you at 7 & bring snacks", "can you send me the file? (report-2024.pdf)", "pls check https://example.com/status",
                 "is it `npm ci` or `npm install`?", "run `git pull` then restart", "price is $40 or best offer", "yes; no; maybe?", "A | B | C — pick one"])
    body = {"text": text, "client_msg_id": uuid4(), "thread_ts": pick([None, f"{epoch()}.{R.randint(100000, 999999)}"])}
    if chance(0.15):
        body["attachments"] = [{"type": "image", "url": f"https://cdn.example.com/chat/{uuid4()}.jpg", "width": 1080, "height": 1350}]
    return req("POST", host, f"/api/conversations/{uuid4()}/messages", body=jdump(body), ctype=pick(JSON_CT), kind=pick(["browser", "mobile"]))


def s_misc():
    k = R.random()
    host = pick(HOSTS_API + HOSTS_WEB)
    if k < 0.15:
        return req("GET", host, pick(["/healthz", "/health", "/ready", "/livez", "/metrics", "/api/status", "/ping"]), kind="tool", auth=False)
    if k < 0.35:
        asset = pick(["/static/js/main.3f2a1c9e.js", "/static/css/app.8d1b.css", "/favicon.ico", "/assets/fonts/Inter-roman.var.woff2",
                      "/img/logo.svg", "/manifest.webmanifest", "/robots.txt", "/sitemap.xml", f"/_next/static/chunks/pages/index-{hexs(16)}.js",
                      f"/_next/image?url=%2Fimages%2Fhero.jpg&w=1920&q=75", "/apple-touch-icon.png", "/service-worker.js"])
        h = base_headers("browser", host, accept_json=False, auth=False)
        h["accept"] = pick(["*/*", "text/css,*/*;q=0.1", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "font/woff2;q=1.0,*/*;q=0.5"])
        h["sec-fetch-dest"] = pick(["script", "style", "image", "font"])
        h["sec-fetch-mode"] = "no-cors"
        h.pop("upgrade-insecure-requests", None)
        return {"method": "GET", "path": asset, "headers": h, "body": ""}
    if k < 0.55:
        page = pick(["/", "/account", "/orders", "/cart", "/help/articles/where-is-my-order", "/blog/a-short-history-of-rock-n-roll",
                     "/products/levis-501-jeans", "/en-gb/shop/mens/shoes?size=10&colour=brown", "/de/suche?q=Stra%C3%9Fe", "/fr/produits/cr%C3%A8me-br%C3%BBl%C3%A9e",
                     "/ja/%E6%A4%9C%E7%B4%A2", "/search?q=O%27Brien&type=people", "/u/" + pick(LAST).replace("'", "%27").replace(" ", "%20")])
        return req("GET", host, page, accept_json=False, auth=False, kind="browser")
    if k < 0.65:
        # CORS preflight
        h = {"host": pick(HOSTS_API), "origin": "https://" + pick(HOSTS_WEB), "access-control-request-method": pick(["POST", "PUT", "PATCH", "DELETE"]),
             "access-control-request-headers": pick(["authorization,content-type", "content-type,x-request-id", "authorization"]),
             "user-agent": pick(UA_BROWSER)(pick(CHROME_V)), "accept": "*/*", "sec-fetch-mode": "cors", "referer": "https://" + pick(HOSTS_WEB) + "/"}
        return {"method": "OPTIONS", "path": pick(["/api/v1/orders", "/graphql", "/api/posts", "/v1/users/me"]), "headers": h, "body": ""}
    if k < 0.8:
        # settings / feature flags
        body = {"flags": {pick(["new_checkout", "dark_mode", "beta_search", "ai_summary"]): chance(0.5) for _ in range(3)}, "user": {"key": uuid4(), "country": pick(["IE", "US", "DE", "JP"])}}
        return req("POST", pick(["flags.example.com", "api.example.com"]), "/sdk/evaluate", body=jdump(body), ctype="application/json", kind=pick(["browser", "mobile", "tool"]))
    if k < 0.9:
        # infrastructure / CI API calls
        body = pick([{"ref": "refs/heads/main", "inputs": {"environment": pick(["staging", "production"]), "dry_run": "false"}},
                     {"title": "Bump lodash from 4.17.20 to 4.17.21", "head": "dependabot/npm_and_yarn/lodash-4.17.21", "base": "main", "body": "Bumps lodash.\n\n---\n\n<details><summary>Commits</summary><ul><li>f299b52 Bump to v4.17.21</li></ul></details>"},
                     {"name": "deploy-" + str(R.randint(100, 999)), "image": f"registry.example.com/web:{hexs(7)}", "replicas": R.randint(1, 6),
                      "env": {"NODE_ENV": "production", "LOG_LEVEL": "info", "DATABASE_URL_SECRET": "db-url"}}])
        return req("POST", pick(["api.github.example.com", "ci.example.org", "deploy.example.com"]), pick(["/repos/example/web/actions/workflows/deploy.yml/dispatches", "/repos/example/web/pulls", "/api/v1/deployments"]),
                   body=jdump(body), ctype="application/json", kind="tool")
    # bulk / batch JSON with nested arrays
    rows = [[R.randint(1, 999), pick(PRODUCTS), round(R.uniform(0, 100), 2), pick([True, False, None])] for _ in range(R.randint(2, 8))]
    body = {"columns": ["id", "name", "price", "active"], "rows": rows, "options": {"upsert": True, "on_conflict": ["id"], "dry_run": chance(0.3)}}
    return req("POST", host, pick(["/api/v1/import", "/api/bulk", "/api/v1/products/batch"]), body=jdump(body), ctype="application/json", kind=pick(["tool", "browser"]))


SCENARIOS = [
    (s_users, 12), (s_orders, 10), (s_products, 10), (s_comments, 7), (s_tickets, 6), (s_cms, 5),
    (s_forms, 9), (s_search_api, 7), (s_files_urls, 5), (s_graphql, 5), (s_oauth, 5), (s_analytics, 6),
    (s_s3, 3), (s_mobile, 5), (s_calendar, 3), (s_messages, 5), (s_misc, 6),
]


def main():
    ap = argparse.ArgumentParser(description="Generate the benign request corpus (deterministic).")
    ap.add_argument("-o", "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated.jsonl"))
    ap.add_argument("-n", type=int, default=DEFAULT_N)
    args = ap.parse_args()
    funcs = [f for f, w in SCENARIOS for _ in range(w)]
    lines = []
    for i in range(1, args.n + 1):
        rec = pick(funcs)()
        line = {"case": f"benign-gen-{i:06d}", "category": "benign", "method": rec["method"], "path": rec["path"],
                "headers": rec["headers"], "body": rec["body"]}
        lines.append(json.dumps(line, ensure_ascii=False))
    lines.sort()  # case ids are zero-padded, so this is generation order
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for l in lines:
            f.write(l + "\n")


if __name__ == "__main__":
    main()
