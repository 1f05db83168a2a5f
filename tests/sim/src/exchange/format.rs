//! Value formats Exchange prints: byte quantities and organization paths.

/// Exchange's `ByteQuantifiedSize` text: `99 GB (106,300,440,576 bytes)`.
pub fn byte_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut unit = 0;
    let mut scaled = bytes as f64;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    let number = if unit == 0 {
        bytes.to_string()
    } else {
        let text = format!("{scaled:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{number} {} ({} bytes)", UNITS[unit], thousands(bytes))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `OrganizationId` of objects in a tenant.
pub fn organization_id(initial_domain: &str) -> String {
    format!(
        "NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{initial_domain} - NAMPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/{initial_domain}/Configuration"
    )
}

/// `OrganizationalUnit` of recipients in a tenant.
pub fn organizational_unit(initial_domain: &str) -> String {
    format!("NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{initial_domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_exchange() {
        assert_eq!(byte_size(106_300_440_576), "99 GB (106,300,440,576 bytes)");
        assert_eq!(byte_size(0), "0 B (0 bytes)");
        assert_eq!(byte_size(1536), "1.5 KB (1,536 bytes)");
        assert_eq!(byte_size(36_700_160), "35 MB (36,700,160 bytes)");
    }
}
