//! Files the real minisign 0.11 made, for unit tests that check exorun reads and writes the
//! same bytes (the integration tests run the minisign command itself).

/// `minisign -G -W`: the public key.
pub const MINISIGN_PUBLIC_KEY: &str = "untrusted comment: minisign public key 378E18C04D1A9CD7
RWTXnBpNwBiON3inFGfxOLuXOtvWsKpvcoARnrl9cryxUMnInePup5zS
";

/// `minisign -G -W`: the unencrypted secret key (its checksum is left zero, as -W leaves it).
pub const MINISIGN_SECRET_KEY: &str = "untrusted comment: minisign encrypted secret key
RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA15waTcAYjjclAdIIhPX7LoE2iy08dL3+i+JUqHqPGmbTA9bhPqTl9ninFGfxOLuXOtvWsKpvcoARnrl9cryxUMnInePup5zSAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
";

/// What [`MINISIGN_SIGNATURE`] signs.
pub const SIGNED_TEXT: &[u8] = b"hello\n";

/// `minisign -S -s <the key above> -m f -t "tc here"` over [`SIGNED_TEXT`].
pub const MINISIGN_SIGNATURE: &str = "untrusted comment: signature from minisign secret key
RUTXnBpNwBiON8I1eQZPg8Mi3wgveTo6TOOzZtZNeqd2B1zI9Yz8BZWUq90qs1ZPCJiyOs+YAi5oZWgoQZlr+hhp2NZFwsr3sQc=
trusted comment: tc here
KXi4DJexDuatyQJjmOImCCAXqdOk253DOFGROyWbs7jz6l8XPt+C5fKXCJNjnrWMwaHtW08kJe/ZILHi41aKAA==
";

/// `minisign -S -l -s <the key above> -m f -t legacy` over [`SIGNED_TEXT`]: the legacy "Ed"
/// algorithm, which signs the data itself.
pub const MINISIGN_LEGACY_SIGNATURE: &str = "untrusted comment: signature from minisign secret key
RWTXnBpNwBiONx5lohaH8KlDfrFNYznrH/ukaukbQRCF8Qumn+FajfT/bsGGiM4mHRgVFPBJHG5eMaO3nDpKNlrP7vESIlK4gww=
trusted comment: legacy
3jIEgy19qrzm/wnAsCtXdQPo5XnES38gGpB3FcULglbv65wPzrt0oDmDiwXTkmL6YeD+I4xIELLoaFvhkeYIBQ==
";
