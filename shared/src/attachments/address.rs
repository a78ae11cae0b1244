//! Which IP addresses a vendor-supplied `data_url` may make the publisher connect to.
//!
//! The publisher runs with AWS credentials in its environment and may sit next to private
//! services, so a `data_url` must never reach loopback, the instance metadata service
//! (169.254.169.254, link-local), private networks or anything else that is not a public unicast
//! address. Written by hand because `IpAddr::is_global` is still unstable in std; the ranges are
//! those of the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and successors).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, as far as outbound downloads are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A public unicast address: the only kind a download may connect to by default.
    Public,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `169.254/16` (includes the cloud metadata service), `fe80::/10`, deprecated `fec0::/10`.
    LinkLocal,
    /// RFC 4193 unique local IPv6, `fc00::/7`.
    UniqueLocal,
    /// RFC 6598 carrier-grade NAT shared space, `100.64/10`.
    SharedCgnat,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Documentation and benchmarking ranges (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`,
    /// `198.18/15`, `2001:db8::/32`).
    Documentation,
    /// Anything else not globally routable: IETF protocol assignments (`192.0.0/24`,
    /// `2001::/23`), `240/4`, 6to4 relay anycast, discard-only `100::/64`, local-use NAT64.
    Reserved,
}

impl AddressClass {
    pub fn is_public(self) -> bool {
        self == Self::Public
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::UniqueLocal => "unique-local",
            Self::SharedCgnat => "carrier-grade NAT",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation/benchmarking",
            Self::Reserved => "reserved",
        })
    }
}

/// Classifies `ip`. IPv6 forms that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are classified by the
/// embedded address, since connecting to them reaches that IPv4 host.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    const RANGES: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedCgnat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Documentation),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    RANGES
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
        .map_or(Public, |(_, _, class)| *class)
}

fn in_v6(ip: Ipv6Addr, network: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(network)) & mask
}

/// The IPv4 address in the low 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated) and NAT64 (64:ff9b::/96)
    // all reach the IPv4 address in their low 32 bits.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0; 8], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    {
        return classify_v4(low_v4(ip));
    }
    // 6to4 (2002::/16) carries its IPv4 relay address in bits 16..48.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let embedded = ((u128::from(ip) >> 80) & 0xffff_ffff) as u32;
        return classify_v4(Ipv4Addr::from(embedded));
    }
    const RANGES: &[([u16; 8], u32, AddressClass)] = &[
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Reserved),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reserved),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    if let Some((_, _, class)) = RANGES
        .iter()
        .find(|(network, prefix, _)| in_v6(ip, *network, *prefix))
    {
        return *class;
    }
    // Only 2000::/3 is allocated as global unicast; everything else is unassigned or special.
    if in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        Public
    } else {
        Reserved
    }
}

#[cfg(test)]
mod tests {
    use super::AddressClass::*;
    use super::*;

    fn class(ip: &str) -> AddressClass {
        classify(ip.parse().unwrap_or_else(|_| panic!("{ip} is an IP")))
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "52.95.110.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(class(ip), Public, "{ip}");
        }
    }

    #[test]
    fn loopback_and_unspecified_are_refused() {
        assert_eq!(class("127.0.0.1"), Loopback);
        assert_eq!(class("127.255.255.254"), Loopback);
        assert_eq!(class("::1"), Loopback);
        assert_eq!(class("0.0.0.0"), Unspecified);
        assert_eq!(class("0.1.2.3"), Unspecified);
        assert_eq!(class("::"), Unspecified);
    }

    #[test]
    fn private_networks_are_refused_at_their_edges() {
        for ip in [
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.0",
            "192.168.255.255",
        ] {
            assert_eq!(class(ip), Private, "{ip}");
        }
    }

    #[test]
    fn link_local_including_the_metadata_service_is_refused() {
        assert_eq!(class("169.254.169.254"), LinkLocal);
        assert_eq!(class("169.254.0.0"), LinkLocal);
        assert_eq!(class("fe80::1"), LinkLocal);
        assert_eq!(class("febf:ffff::1"), LinkLocal);
        assert_eq!(class("fec0::1"), LinkLocal);
        // The EC2 metadata service's IPv6 address is unique-local.
        assert_eq!(class("fd00:ec2::254"), UniqueLocal);
    }

    #[test]
    fn unique_local_cgnat_and_multicast_are_refused() {
        assert_eq!(class("fc00::1"), UniqueLocal);
        assert_eq!(class("fdff:ffff::1"), UniqueLocal);
        assert_eq!(class("100.64.0.0"), SharedCgnat);
        assert_eq!(class("100.127.255.255"), SharedCgnat);
        assert_eq!(class("224.0.0.1"), Multicast);
        assert_eq!(class("239.255.255.250"), Multicast);
        assert_eq!(class("ff02::1"), Multicast);
        assert_eq!(class("255.255.255.255"), Broadcast);
    }

    #[test]
    fn documentation_and_reserved_ranges_are_refused() {
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "2001:db8::1",
        ] {
            assert_eq!(class(ip), Documentation, "{ip}");
        }
        for ip in [
            "192.0.0.8",
            "192.88.99.1",
            "240.0.0.1",
            "254.255.255.255",
            "100::1",
            "2001::1",
            "2001:1ff:ffff::1",
            "64:ff9b:1::1",
            "4000::1",
            "::2:0:0:1",
        ] {
            assert_eq!(class(ip), Reserved, "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        assert_eq!(class("::ffff:127.0.0.1"), Loopback);
        assert_eq!(class("::ffff:10.1.2.3"), Private);
        assert_eq!(class("::ffff:169.254.169.254"), LinkLocal);
        assert_eq!(class("::ffff:100.64.1.1"), SharedCgnat);
        assert_eq!(class("::ffff:0.0.0.0"), Unspecified);
        assert_eq!(class("::ffff:8.8.8.8"), Public);
        assert_eq!(class("::127.0.0.1"), Loopback);
        assert_eq!(class("64:ff9b::192.168.1.1"), Private);
        assert_eq!(class("64:ff9b::8.8.8.8"), Public);
        // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
        assert_eq!(class("2002:7f00:0001::1"), Loopback);
        assert_eq!(class("2002:a9fe:a9fe::1"), LinkLocal);
        assert_eq!(class("2002:0808:0808::1"), Public);
    }

    #[test]
    fn only_public_counts_as_public() {
        assert!(Public.is_public());
        assert!(!Loopback.is_public());
        assert_eq!(LinkLocal.to_string(), "link-local");
    }
}
