// SPDX-License-Identifier: GPL-2.0

//! The layout of every structure C and Rust share, from the one list in
//! `src/rrelay_layout.h`, read here at compile time: [`assert_layout!`],
//! beside each `#[repr(C)]` definition, asserts each listed field's offset,
//! the size, and that the definition names every field the list has for
//! its structure. `src/rrelay_shim.c` asserts the C definitions against
//! the same list, and the tool includes this file for the uapi structures.
//! The numbers are a 64-bit kernel's (the asserts run there only).

/// The list, as C includes it.
const LIST: &[u8] = include_bytes!("rrelay_layout.h");

const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The next word (identifier or number) at or after `at`, skipping
/// comments: its start and end, or `None` at the end of the list.
const fn next_word(mut at: usize) -> Option<(usize, usize)> {
    while at < LIST.len() {
        if LIST[at] == b'/' && at + 1 < LIST.len() && LIST[at + 1] == b'*' {
            at += 2;
            while at + 1 < LIST.len() && !(LIST[at] == b'*' && LIST[at + 1] == b'/') {
                at += 1;
            }
            at += 2;
        } else if is_word(LIST[at]) {
            let start = at;
            while at < LIST.len() && is_word(LIST[at]) {
                at += 1;
            }
            return Some((start, at));
        } else {
            at += 1;
        }
    }
    None
}

/// Whether the word `w` of the list is `s`.
const fn word_is(w: (usize, usize), s: &str) -> bool {
    let s = s.as_bytes();
    if w.1 - w.0 != s.len() {
        return false;
    }
    let mut i = 0;
    while i < s.len() {
        if LIST[w.0 + i] != s[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The number the word `w` of the list spells.
const fn number(w: (usize, usize)) -> usize {
    let mut n = 0;
    let mut i = w.0;
    while i < w.1 {
        assert!(LIST[i].is_ascii_digit(), "rrelay_layout.h: not a number");
        n = n * 10 + (LIST[i] - b'0') as usize;
        i += 1;
    }
    n
}

/// An entry of the list.
#[derive(Clone, Copy)]
enum Entry {
    /// `RRELAY_FIELD(struct, field, offset)`: the words of struct and
    /// field, and the offset.
    Field((usize, usize), (usize, usize), usize),
    /// `RRELAY_SIZE(struct, size)`.
    Size((usize, usize), usize),
}

/// The entry whose first word is at or after `at`, and where the next
/// one starts looking.
const fn next_entry(at: usize) -> Option<(Entry, usize)> {
    let Some(kind) = next_word(at) else {
        return None;
    };
    let Some(st) = next_word(kind.1) else {
        panic!("rrelay_layout.h: an entry without its structure");
    };
    let Some(second) = next_word(st.1) else {
        panic!("rrelay_layout.h: an entry cut short");
    };
    if word_is(kind, "RRELAY_SIZE") {
        return Some((Entry::Size(st, number(second)), second.1));
    }
    assert!(
        word_is(kind, "RRELAY_FIELD"),
        "rrelay_layout.h: an entry is RRELAY_FIELD or RRELAY_SIZE"
    );
    let Some(off) = next_word(second.1) else {
        panic!("rrelay_layout.h: a field without its offset");
    };
    Some((Entry::Field(st, second, number(off)), off.1))
}

/// The listed offset of `field` in `struct st` (a build error if unlisted).
pub(crate) const fn offset(st: &str, field: &str) -> usize {
    let mut at = 0;
    while let Some((e, next)) = next_entry(at) {
        if let Entry::Field(s, f, off) = e {
            if word_is(s, st) && word_is(f, field) {
                return off;
            }
        }
        at = next;
    }
    panic!("a field is not in src/rrelay_layout.h")
}

/// The listed size of `struct st` (a build error if unlisted).
pub(crate) const fn size(st: &str) -> usize {
    let mut at = 0;
    while let Some((e, next)) = next_entry(at) {
        if let Entry::Size(s, size) = e {
            if word_is(s, st) {
                return size;
            }
        }
        at = next;
    }
    panic!("a structure has no size in src/rrelay_layout.h")
}

/// How many fields the list has for `struct st`.
pub(crate) const fn fields(st: &str) -> usize {
    let mut at = 0;
    let mut n = 0;
    while let Some((e, next)) = next_entry(at) {
        if let Entry::Field(s, _, _) = e {
            if word_is(s, st) {
                n += 1;
            }
        }
        at = next;
    }
    n
}

/// Asserts that a `#[repr(C)]` type has the layout the list gives its C
/// structure: `assert_layout!(rrelay_buf = RchanBufPublic { chan, cpu, ws })`
/// names every field the list has for it (with the same names), and its
/// size. Where it is used, the type's fields are visible.
macro_rules! assert_layout {
    ($c:ident = $t:ty { $($f:ident),+ $(,)? }) => {
        #[cfg(target_pointer_width = "64")]
        const _: () = {
            $(assert!(
                core::mem::offset_of!($t, $f)
                    == $crate::layout::offset(stringify!($c), stringify!($f)),
                concat!("src/rrelay_layout.h: ", stringify!($c), ".", stringify!($f))
            );)+
            assert!(
                core::mem::size_of::<$t>() == $crate::layout::size(stringify!($c)),
                concat!("src/rrelay_layout.h: the size of ", stringify!($c))
            );
            assert!(
                [$(stringify!($f)),+].len() == $crate::layout::fields(stringify!($c)),
                concat!("src/rrelay_layout.h lists other fields of ", stringify!($c))
            );
        };
    };
}
pub(crate) use assert_layout;
