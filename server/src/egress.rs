//! Outbound calls (webhook deliveries): which addresses they may reach, and the one HTTP
//! client that reaches them.
//!
//! Admins type the URLs Promptly POSTs to. Unguarded, a rule could make the server call its
//! own loopback services, the cloud metadata endpoint (169.254.169.254) or the private
//! network, and show what came back in the deliveries list. So:
//! - [`classify`] names the addresses that are not public, once; [`Guard`] applies it with
//!   the allow-list (`PROMPTLY_EGRESS_ALLOW`: host names and CIDR ranges that may be reached
//!   anyway), when a URL is saved ([`Guard::check_url`]) and when it is called;
//! - the client resolves host names through [`GuardedResolver`], which drops refused
//!   addresses at connect time (a name whose answer changed since it was saved gains
//!   nothing); a URL with an IP literal skips any resolver, so [`Egress::post`] checks it
//!   before sending;
//! - redirects are not followed, at most [`MAX_ANSWER_BYTES`] of an answer are read, a call
//!   ends within [`CALL_TIMEOUT`], no proxy from the environment is used;
//! - a refused address is reported in words that say nothing of what listens there.

use ipnet::IpNet;
use promptly::account::FieldError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The setting that names what may be reached although it is not public (in messages).
pub const ALLOW_SETTING: &str = "PROMPTLY_EGRESS_ALLOW";
/// A call (resolving, connecting, sending, reading the answer) ends within this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting alone ends within this (a dead address should not use the whole call).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a receiver's answer is read (to keep the connection reusable); the rest is
/// dropped with the connection.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long saving a URL waits for its host name to resolve; a name that does not answer
/// in time is accepted (its deliveries are guarded at connect time all the same).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest stored piece of a receiver's words (a redirect's `Location`).
const MAX_QUOTED: usize = 300;

/// What kind of address that is not public an IP address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, deprecated site-local `fec0::/10`, local-use NAT64.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `169.254/16` (cloud metadata lives here), `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Everything else that is not a public unicast address: protocol assignments, 6to4
    /// relays, benchmarking, `240/4`, Teredo, IPv6 outside `2000::/3`.
    Special,
}

impl Reserved {
    /// "a loopback address", for messages.
    pub fn words(self) -> &'static str {
        match self {
            Reserved::Unspecified => "an unspecified address",
            Reserved::Loopback => "a loopback address",
            Reserved::Private => "a private address",
            Reserved::SharedAddressSpace => "a carrier-grade NAT address",
            Reserved::LinkLocal => "a link-local address",
            Reserved::UniqueLocal => "a unique-local address",
            Reserved::Multicast => "a multicast address",
            Reserved::Broadcast => "the broadcast address",
            Reserved::Documentation => "a documentation address",
            Reserved::Special => "a special-purpose address",
        }
    }
}

/// Why `ip` is not a public address, or `None` when it is. IPv4 addresses written as IPv6
/// (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
/// `2002:AABB:CCDD::`) are judged by the IPv4 address they carry.
pub fn classify(ip: IpAddr) -> Option<Reserved> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Reserved> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Reserved::Broadcast,
        (0, _, _) => Reserved::Unspecified,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Reserved::Private,
        (100, 64..=127, _) => Reserved::SharedAddressSpace,
        (127, _, _) => Reserved::Loopback,
        (169, 254, _) => Reserved::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Reserved::Documentation,
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => Reserved::Special,
        (224..=239, _, _) => Reserved::Multicast,
        (240..=255, _, _) => Reserved::Special,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Reserved> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(Reserved::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Reserved::Loopback);
    }
    if let Some(v4) = carried_v4(ip) {
        return classify_v4(v4);
    }
    Some(match s[0] {
        0xfc00..=0xfdff => Reserved::UniqueLocal,
        0xfe80..=0xfebf => Reserved::LinkLocal,
        0xfec0..=0xfeff => Reserved::Private,
        0xff00..=0xffff => Reserved::Multicast,
        0x2001 if s[1] == 0x0db8 => Reserved::Documentation,
        0x3fff if s[1] < 0x1000 => Reserved::Documentation,
        // 2001::/23: protocol assignments, Teredo (2001::/32) among them.
        0x2001 if s[1] < 0x0200 => Reserved::Special,
        0x0064 if s[1] == 0xff9b && s[2] == 1 => Reserved::Private,
        0x2000..=0x3fff => return None,
        _ => Reserved::Special,
    })
}

/// The IPv4 address an IPv6 address stands for: mapped, compatible, NAT64 or 6to4.
fn carried_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// The hosts and networks that may be reached although they are not public
/// (`PROMPTLY_EGRESS_ALLOW`): comma-separated host names (`hooks.internal`), `*.` domains
/// (`*.corp.example`: its subdomains), IP addresses and CIDR ranges (`10.1.0.0/16`,
/// `fd00::/8`). Empty items are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Allowed>);

/// One item of an [`AllowList`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// A host name, as compared ([`normal_host`]).
    Host(String),
    /// The subdomains of this domain.
    Domain(String),
    Net(IpNet),
}

impl AllowList {
    /// Whether nothing is allowed beyond public addresses.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the host name is allowed (by name or by domain), whatever it resolves to.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.0.iter().any(|a| match a {
            Allowed::Host(h) => *h == host,
            Allowed::Domain(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|p| p.ends_with('.')),
            Allowed::Net(_) => false,
        })
    }

    /// Whether a range of the list holds the address (an IPv4-mapped IPv6 address is held by
    /// the IPv4 ranges too).
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0.iter().any(|a| match a {
            Allowed::Net(n) => n.contains(&ip) || n.contains(&canonical),
            _ => false,
        })
    }
}

/// A host name as compared: lower case, no trailing dot, no IPv6 brackets.
fn normal_host(host: &str) -> String {
    host.trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Whether `s` is a DNS host name (letters, digits, hyphens, dots; labels of 1 to 63).
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl FromStr for AllowList {
    type Err = String;

    fn from_str(s: &str) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.contains('/') && !item.contains("://") {
                let net: IpNet = item.parse().map_err(|_| {
                    format!(
                        "`{item}` is not a CIDR range (such as 10.1.0.0/16 or fd00::/8; the \
                         prefix is at most 32 for IPv4, 128 for IPv6)"
                    )
                })?;
                list.0.push(Allowed::Net(net.trunc()));
            } else if let Ok(ip) = normal_host(item).parse::<IpAddr>() {
                list.0.push(Allowed::Net(IpNet::from(ip)));
            } else if let Some(domain) = item.strip_prefix("*.") {
                let domain = normal_host(domain);
                if !is_host_name(&domain) {
                    return Err(format!("`{item}` is not a domain (such as *.corp.example)"));
                }
                list.0.push(Allowed::Domain(domain));
            } else {
                let host = normal_host(item);
                if !is_host_name(&host) {
                    return Err(format!(
                        "`{item}` is not a host name, IP address or CIDR range (such as \
                         hooks.internal, 10.0.0.5 or 10.1.0.0/16; no scheme, port or path)"
                    ));
                }
                list.0.push(Allowed::Host(host));
            }
        }
        Ok(list)
    }
}

/// A destination refused because it is not public and not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The URL's host is such an address.
    Address { ip: IpAddr, kind: Reserved },
    /// Every address the host name resolves to is such an address (the first one's kind).
    Name { host: String, kind: Reserved },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Address { ip, kind } => write!(f, "refused: {ip} is {}", kind.words())?,
            Refused::Name { host, kind } => write!(
                f,
                "refused: {host} resolves only to addresses that are not public ({} or the like)",
                kind.words()
            )?,
        }
        write!(
            f,
            "; webhooks reach public addresses only, unless {ALLOW_SETTING} names the host or \
             its network"
        )
    }
}

impl std::error::Error for Refused {}

/// Applies [`classify`] and the allow-list.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: AllowList,
}

impl Guard {
    pub fn new(allow: AllowList) -> Guard {
        Guard { allow }
    }

    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refuses(&self, ip: IpAddr) -> Option<Reserved> {
        if self.allow.allows_ip(ip) {
            None
        } else {
            classify(ip)
        }
    }

    /// The host of a URL when it is an IP literal, refused or not.
    fn check_host(&self, host: &url::Host<&str>) -> Result<(), Refused> {
        let ip = match host {
            url::Host::Ipv4(v4) => IpAddr::V4(*v4),
            url::Host::Ipv6(v6) => IpAddr::V6(*v6),
            url::Host::Domain(_) => return Ok(()),
        };
        match self.refuses(ip) {
            Some(kind) => Err(Refused::Address { ip, kind }),
            None => Ok(()),
        }
    }

    /// The addresses of a host name that may be reached: all of them for an allowed name,
    /// else the public ones and those in an allowed range; [`Refused`] when none is left.
    pub async fn resolve(
        &self,
        host: &str,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect();
        if self.allow.allows_host(host) {
            return Ok(found);
        }
        let mut first_refusal = None;
        let usable: Vec<IpAddr> = found
            .into_iter()
            .filter(|ip| match self.refuses(*ip) {
                Some(kind) => {
                    first_refusal.get_or_insert(kind);
                    false
                }
                None => true,
            })
            .collect();
        match (usable.is_empty(), first_refusal) {
            (true, Some(kind)) => Err(Box::new(Refused::Name {
                host: host.to_string(),
                kind,
            })),
            _ => Ok(usable),
        }
    }

    /// Whether a URL about to be saved may be called: its host is an address that may be
    /// reached, an allowed name, or a name with an address that may be reached. A name
    /// that does not resolve now (or not within [`LOOKUP_TIMEOUT`]) passes: the delivery
    /// will say so, and is guarded at connect time all the same. A URL that does not parse
    /// passes too (the rule's own validation reports it).
    pub async fn check_url(&self, url: &str) -> Result<(), Refused> {
        let Ok(url) = url::Url::parse(url.trim()) else {
            return Ok(());
        };
        let Some(host) = url.host() else {
            return Ok(());
        };
        self.check_host(&host)?;
        if let url::Host::Domain(name) = host {
            if self.allow.allows_host(name) {
                return Ok(());
            }
            if let Ok(Err(e)) = tokio::time::timeout(LOOKUP_TIMEOUT, self.resolve(name)).await {
                if let Some(refused) = e.downcast_ref::<Refused>() {
                    return Err(refused.clone());
                }
            }
        }
        Ok(())
    }

    /// [`Guard::check_url`] as the error of the field `field` (422).
    pub async fn field_error(&self, field: String, url: &str) -> Option<FieldError> {
        self.check_url(url)
            .await
            .err()
            .map(|refused| FieldError::new(field, refused.to_string()))
    }
}

/// The client's resolver: host names resolve to the addresses the guard lets through, at
/// connect time (so a name that now points elsewhere than when it was saved is checked
/// again).
struct GuardedResolver(Arc<Guard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = guard.resolve(&host).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why a call did not deliver, in the words stored with the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailed(pub String);

impl fmt::Display for CallFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The guard and the one HTTP client of outbound calls, built from the settings.
#[derive(Clone)]
pub struct Egress {
    guard: Arc<Guard>,
    client: reqwest::Client,
}

impl Egress {
    /// The client: rustls with the Mozilla roots and the certificates of `extra_roots` (a
    /// PEM file, `PROMPTLY_EGRESS_CA_FILE`), the guarded resolver, no redirects, no proxy.
    pub fn new(allow: AllowList, extra_roots: Option<&Path>) -> Result<Egress, String> {
        let guard = Arc::new(Guard::new(allow));
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("Promptly/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = extra_roots {
            let shown = path.display();
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("{shown} is not a PEM certificate file: {e}"))?;
            if certs.is_empty() {
                return Err(format!("{shown} holds no PEM certificate"));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client for webhooks: {e}"))?;
        Ok(Egress { guard, client })
    }

    /// Public addresses only, the built-in roots.
    pub fn strict() -> Egress {
        Egress::new(AllowList::default(), None).expect("the default client builds")
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// POSTs `body` as JSON with `headers`; `Ok` when the receiver answered 2xx.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<(), CallFailed> {
        let answer = self.call(url, headers, body).await?;
        if !(200..300).contains(&answer.status) {
            return Err(CallFailed(format!(
                "the receiver answered {}",
                reqwest::StatusCode::from_u16(answer.status)
                    .map_or_else(|_| answer.status.to_string(), |s| s.to_string())
            )));
        }
        Ok(())
    }

    /// POSTs `body` as JSON with `headers` and reads the answer (its first
    /// [`MAX_ANSWER_BYTES`]) whatever its status, but a redirect, which is not followed.
    pub async fn call(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<Answer, CallFailed> {
        let parsed = url::Url::parse(url).map_err(|e| CallFailed(format!("not a URL: {e}")))?;
        // reqwest resolves only names: an IP literal is checked here.
        if let Some(host) = parsed.host() {
            self.guard
                .check_host(&host)
                .map_err(|r| CallFailed(r.to_string()))?;
        }
        let mut request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut answer = request.send().await.map_err(failure)?;
        let status = answer.status();
        if status.is_redirection() {
            let to = answer
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| quoted(&String::from_utf8_lossy(l.as_bytes())))
                .unwrap_or_else(|| "nowhere (no Location)".into());
            return Err(CallFailed(format!(
                "the receiver redirected to {to} ({status}); redirects are not followed"
            )));
        }
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = read_capped(&mut answer).await;
        Ok(Answer {
            status: status.as_u16(),
            retry_after,
            body,
        })
    }
}

/// What a receiver answered: its status, its `Retry-After` in seconds, and the first
/// [`MAX_ANSWER_BYTES`] of its body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// Reads an answer's body up to [`MAX_ANSWER_BYTES`] (so that a short one leaves the
/// connection reusable) and drops the rest: what it read, at most that much.
async fn read_capped(answer: &mut reqwest::Response) -> Vec<u8> {
    let mut read = Vec::new();
    while read.len() < MAX_ANSWER_BYTES {
        match answer.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            _ => break,
        }
    }
    read.truncate(MAX_ANSWER_BYTES);
    read
}

/// A receiver's words as stored: printable, at most [`MAX_QUOTED`] characters.
fn quoted(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(MAX_QUOTED) {
        Some((i, _)) => format!("{}...", &clean[..i]),
        None => clean,
    }
}

/// A failed call in stored words: a refusal as itself (never the connection's details),
/// a timeout as such, else the error and its causes (without the URL, shown beside it).
fn failure(e: reqwest::Error) -> CallFailed {
    let e = e.without_url();
    let mut chain: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return CallFailed(refused.to_string());
        }
        let text = err.to_string();
        if !chain.iter().any(|seen| seen.contains(&text)) {
            chain.push(text);
        }
        source = err.source();
    }
    if e.is_timeout() {
        return CallFailed(format!("no answer within {} s", CALL_TIMEOUT.as_secs()));
    }
    CallFailed(quoted(&format!("could not deliver: {}", chain.join(": "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_addresses_that_are_not_public() {
        for (addr, kind) in [
            ("0.0.0.0", Reserved::Unspecified),
            ("0.1.2.3", Reserved::Unspecified),
            ("127.0.0.1", Reserved::Loopback),
            ("127.255.255.254", Reserved::Loopback),
            ("10.0.0.1", Reserved::Private),
            ("172.16.0.1", Reserved::Private),
            ("172.31.255.255", Reserved::Private),
            ("192.168.1.1", Reserved::Private),
            ("100.64.0.1", Reserved::SharedAddressSpace),
            ("100.127.255.255", Reserved::SharedAddressSpace),
            ("169.254.169.254", Reserved::LinkLocal),
            ("224.0.0.1", Reserved::Multicast),
            ("239.255.255.250", Reserved::Multicast),
            ("255.255.255.255", Reserved::Broadcast),
            ("192.0.2.10", Reserved::Documentation),
            ("198.51.100.1", Reserved::Documentation),
            ("203.0.113.9", Reserved::Documentation),
            ("192.0.0.170", Reserved::Special),
            ("198.18.0.1", Reserved::Special),
            ("240.0.0.1", Reserved::Special),
        ] {
            assert_eq!(classify(ip(addr)), Some(kind), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.0.1",
            "192.169.0.1",
            "223.255.255.255",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn ipv6_addresses_that_are_not_public() {
        for (addr, kind) in [
            ("::", Reserved::Unspecified),
            ("::1", Reserved::Loopback),
            ("fe80::1", Reserved::LinkLocal),
            ("febf::1", Reserved::LinkLocal),
            ("fec0::1", Reserved::Private),
            ("fc00::1", Reserved::UniqueLocal),
            ("fd12:3456::1", Reserved::UniqueLocal),
            ("ff02::1", Reserved::Multicast),
            ("2001:db8::1", Reserved::Documentation),
            ("3fff::1", Reserved::Documentation),
            ("3fff:fff::1", Reserved::Documentation),
            ("2001::1", Reserved::Special),
            ("100::1", Reserved::Special),
            ("64:ff9b:1::1", Reserved::Private),
            // IPv4 in IPv6 clothing is judged as the IPv4 address.
            ("::ffff:127.0.0.1", Reserved::Loopback),
            ("::ffff:169.254.169.254", Reserved::LinkLocal),
            ("::ffff:10.0.0.1", Reserved::Private),
            ("::127.0.0.1", Reserved::Loopback),
            ("64:ff9b::a9fe:a9fe", Reserved::LinkLocal),
            ("2002:7f00:1::", Reserved::Loopback),
            ("2002:c0a8:101::1", Reserved::Private),
        ] {
            assert_eq!(classify(ip(addr)), Some(kind), "{addr}");
        }
        for public in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "3fff:1000::1",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn allow_lists_parse_hosts_domains_addresses_and_ranges() {
        let list: AllowList =
            " 127.0.0.1/32, Hooks.Internal., *.corp.example,10.1.0.0/16,::1, [fd00::5],, fd00:1::/32"
                .parse()
                .unwrap();
        assert!(list.allows_ip(ip("127.0.0.1")));
        assert!(!list.allows_ip(ip("127.0.0.2")));
        assert!(
            list.allows_ip(ip("::ffff:127.0.0.1")),
            "mapped IPv4 is held by the IPv4 range"
        );
        assert!(list.allows_ip(ip("10.1.200.3")));
        assert!(!list.allows_ip(ip("10.2.0.1")));
        assert!(list.allows_ip(ip("::1")));
        assert!(list.allows_ip(ip("fd00::5")));
        assert!(list.allows_ip(ip("fd00:1:ffff::1")));
        assert!(!list.allows_ip(ip("fd00:2::1")));
        assert!(list.allows_host("hooks.internal"));
        assert!(list.allows_host("HOOKS.internal."));
        assert!(!list.allows_host("other.internal"));
        assert!(list.allows_host("a.corp.example"));
        assert!(list.allows_host("b.a.corp.example"));
        assert!(
            !list.allows_host("corp.example"),
            "a domain allows its subdomains"
        );
        assert!(!list.allows_host("evilcorp.example"));
        // Host bits in a range are dropped: 10.1.2.3/16 is 10.1.0.0/16.
        let list: AllowList = "10.1.2.3/16".parse().unwrap();
        assert!(list.allows_ip(ip("10.1.9.9")));
        assert!("".parse::<AllowList>().unwrap().is_empty());
        assert!(" , ".parse::<AllowList>().unwrap().is_empty());
    }

    #[test]
    fn bad_allow_list_items_are_named() {
        for (input, bad) in [
            ("10.0.0.0/33", "`10.0.0.0/33` is not a CIDR range"),
            ("::/129", "`::/129` is not a CIDR range"),
            ("10.0.0.0/x", "`10.0.0.0/x` is not a CIDR range"),
            (
                "ok.example,http://x.example",
                "`http://x.example` is not a host name",
            ),
            (
                "hooks.internal:8080",
                "`hooks.internal:8080` is not a host name",
            ),
            ("bad_host", "`bad_host` is not a host name"),
            ("*.", "`*.` is not a domain"),
            ("-x.example", "`-x.example` is not a host name"),
        ] {
            let e = input.parse::<AllowList>().unwrap_err();
            assert!(e.starts_with(bad), "{input}: {e}");
        }
    }

    #[test]
    fn the_allow_list_lets_through_what_it_names() {
        let strict = Guard::default();
        let allowing = Guard::new("127.0.0.1/32,fd00::/8".parse().unwrap());
        assert_eq!(strict.refuses(ip("127.0.0.1")), Some(Reserved::Loopback));
        assert_eq!(allowing.refuses(ip("127.0.0.1")), None);
        assert_eq!(allowing.refuses(ip("fd00::9")), None);
        assert_eq!(
            allowing.refuses(ip("169.254.169.254")),
            Some(Reserved::LinkLocal)
        );
        assert_eq!(allowing.refuses(ip("8.8.8.8")), None);
    }

    #[tokio::test]
    async fn saving_refuses_literals_and_names_of_addresses_that_are_not_public() {
        let strict = Guard::default();
        for (url, says) in [
            (
                "http://127.0.0.1:8080/h",
                "refused: 127.0.0.1 is a loopback address",
            ),
            (
                "http://169.254.169.254/latest/meta-data",
                "refused: 169.254.169.254 is a link-local address",
            ),
            ("http://[::1]/h", "refused: ::1 is a loopback address"),
            (
                "https://10.0.0.1/h",
                "refused: 10.0.0.1 is a private address",
            ),
            (
                "http://[::ffff:127.0.0.1]/h",
                "refused: ::ffff:127.0.0.1 is a loopback address",
            ),
            // The URL parser reads these as 127.0.0.1, and so does the client.
            (
                "http://2130706433/h",
                "refused: 127.0.0.1 is a loopback address",
            ),
            (
                "http://0x7f.1/h",
                "refused: 127.0.0.1 is a loopback address",
            ),
            (
                "http://localhost:9/h",
                "refused: localhost resolves only to addresses that are not public",
            ),
        ] {
            let e = strict.check_url(url).await.unwrap_err().to_string();
            assert!(e.starts_with(says), "{url}: {e}");
            assert!(e.contains(ALLOW_SETTING), "{e}");
        }
        assert_eq!(strict.check_url("https://8.8.8.8/h").await, Ok(()));
        assert_eq!(
            strict.check_url("https://does-not-resolve.invalid/h").await,
            Ok(()),
            "guarded when called"
        );
        let allowing = Guard::new("127.0.0.1/32,localhost".parse().unwrap());
        assert_eq!(allowing.check_url("http://127.0.0.1:8080/h").await, Ok(()));
        assert_eq!(allowing.check_url("http://localhost:9/h").await, Ok(()));
        assert!(allowing.check_url("http://10.0.0.1/h").await.is_err());
    }

    /// A listener that counts the connections it accepts.
    async fn counting_listener() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        (port, count)
    }

    #[tokio::test]
    async fn calls_to_refused_addresses_are_not_made_and_say_only_that() {
        let (port, connections) = counting_listener().await;
        let strict = Egress::strict();
        // An IP literal (no resolver involved) and a name resolved at connect time.
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        ] {
            let e = strict.post(&url, &[], "{}".into()).await.unwrap_err();
            assert!(e.0.starts_with("refused: "), "{url}: {e}");
            assert!(!e.0.contains(&port.to_string()), "no port is echoed: {e}");
        }
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_endless_answer_is_read_only_up_to_the_cap() {
        let chunk = axum::body::Bytes::from(vec![b'x'; 8192]);
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        let mut answer = reqwest::Response::from(
            axum::http::Response::builder()
                .status(200)
                .body(reqwest::Body::wrap_stream(endless))
                .unwrap(),
        );
        let read = read_capped(&mut answer).await;
        assert_eq!(
            read.len(),
            MAX_ANSWER_BYTES,
            "kept up to the cap, the rest dropped"
        );
    }

    #[tokio::test]
    async fn a_failed_connection_is_told_without_the_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let allowing = Egress::new("127.0.0.1/32".parse().unwrap(), None).unwrap();
        let url = format!("http://127.0.0.1:{port}/secret-path");
        let e = allowing.post(&url, &[], "{}".into()).await.unwrap_err();
        assert!(e.0.starts_with("could not deliver: "), "{e}");
        assert!(e.0.contains("onnect"), "says it could not connect: {e}");
        assert!(!e.0.contains("secret-path"), "{e}");
    }

    #[test]
    fn stored_words_are_printable_and_short() {
        assert_eq!(quoted("a\r\nb"), "a  b");
        let long = "x".repeat(1000);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED + 3);
    }
}
