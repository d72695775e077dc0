//! Exact money: a decimal amount and an ISO 4217 currency code, never a binary float.
//!
//! Amounts are accepted as a JSON number or string and emitted as a JSON string
//! (`"500.00"`, the scale kept). The workspace enables serde_json's
//! `arbitrary_precision`, so a JSON number reaches [`Amount`] as its text and is
//! parsed exactly: no `f64` is involved at any point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most decimal places an amount may carry.
pub const MAX_SCALE: u32 = 8;

/// Why a value is not a valid amount or currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a decimal number (exponents, `NaN`, and empty strings are refused).
    #[error("not a decimal number")]
    NotDecimal,
    /// More than [`MAX_SCALE`] decimal places.
    #[error("more than {MAX_SCALE} decimal places")]
    TooPrecise,
    /// Not three ASCII letters.
    #[error("not an ISO 4217 currency code (three letters)")]
    BadCurrency,
}

/// An exact decimal amount.
///
/// ```
/// use hub_core::Amount;
/// let a: Amount = "500.10".parse().unwrap();
/// assert_eq!(a.to_string(), "500.10");
/// let from_json: Amount = serde_json::from_str("0.1").unwrap();
/// assert_eq!(serde_json::to_string(&from_json).unwrap(), "\"0.1\"");
/// assert!("1e3".parse::<Amount>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

impl Amount {
    /// Wraps a decimal that already has at most [`MAX_SCALE`] places.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.scale() > MAX_SCALE {
            return Err(MoneyError::TooPrecise);
        }
        Ok(Self(value))
    }

    /// The decimal value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// Whether the amount is greater than zero.
    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }
}

impl FromStr for Amount {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, MoneyError> {
        let t = s.trim();
        let unsigned = t.strip_prefix('-').unwrap_or(t);
        let (int, frac) = match unsigned.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (unsigned, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(MoneyError::NotDecimal);
        }
        if frac.map_or(0, str::len) > MAX_SCALE as usize {
            return Err(MoneyError::TooPrecise);
        }
        let value = Decimal::from_str_exact(t).map_err(|_| MoneyError::NotDecimal)?;
        Self::new(value)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// The key under which serde_json's `arbitrary_precision` passes a number's text.
const SERDE_JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount as a JSON number or string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            // With `arbitrary_precision`, serde_json hands a number over as a one-entry map
            // whose key is its private token and whose value is the number's exact text.
            // Any other object (`{"value": "1.00"}`) is not an amount.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Amount, A::Error> {
                let not_a_number = || serde::de::Error::custom("an object is not an amount");
                match map.next_key::<String>()? {
                    Some(key) if key == SERDE_JSON_NUMBER_TOKEN => {}
                    _ => return Err(not_a_number()),
                }
                let text: String = map.next_value()?;
                if map.next_key::<String>()?.is_some() {
                    return Err(not_a_number());
                }
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An ISO 4217 alphabetic currency code, stored upper-case.
///
/// ```
/// use hub_core::Currency;
/// assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
/// assert!(Currency::parse("US").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// The US dollar.
    ///
    /// ```
    /// assert_eq!(hub_core::Currency::USD.as_str(), "USD");
    /// ```
    pub const USD: Self = Self(*b"USD");

    /// The euro.
    pub const EUR: Self = Self(*b"EUR");

    /// Parses a three-letter code, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_alphabetic()) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(MoneyError::BadCurrency),
        }
    }

    /// The code, upper-case.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

/// An amount in a currency.
///
/// ```
/// use hub_core::{Amount, Currency, Money};
/// let m = Money::new("12.50".parse().unwrap(), Currency::parse("EUR").unwrap());
/// assert_eq!(m.to_string(), "12.50 EUR");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The exact amount.
    pub amount: Amount,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// Pairs an amount with its currency.
    pub fn new(amount: Amount, currency: Currency) -> Self {
        Self { amount, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Result<&str, MoneyError>) {
        let got = input.parse::<Amount>().map(|a| a.to_string());
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "input {input:?}");
    }

    #[test]
    fn parsing_is_exact_and_strict() {
        check("500.00", Ok("500.00"));
        check("0.1", Ok("0.1"));
        check("-3", Ok("-3"));
        check(" 7.25 ", Ok("7.25"));
        check("12345678901234567890.12345678", Ok("12345678901234567890.12345678"));
        check("0.123456789", Err(MoneyError::TooPrecise));
        check("1e3", Err(MoneyError::NotDecimal));
        check("NaN", Err(MoneyError::NotDecimal));
        check("", Err(MoneyError::NotDecimal));
        check(".5", Err(MoneyError::NotDecimal));
        check("5.", Err(MoneyError::NotDecimal));
        check("+5", Err(MoneyError::NotDecimal));
        check("0x10", Err(MoneyError::NotDecimal));
        check("1_000", Err(MoneyError::NotDecimal));
    }

    #[test]
    fn json_numbers_are_read_without_floats() {
        // 0.1 + 0.2 style values that a float would mangle come through unchanged.
        let a: Amount = serde_json::from_str("0.30000000").unwrap();
        assert_eq!(a.to_string(), "0.30000000");
        let big: Amount = serde_json::from_str("99999999999999999.99").unwrap();
        assert_eq!(big.to_string(), "99999999999999999.99");
        let s: Amount = serde_json::from_str("\"500.00\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"500.00\"");
        let n: Amount = serde_json::from_str("42").unwrap();
        assert_eq!(n.to_string(), "42");
        assert!(serde_json::from_str::<Amount>("1e2").is_err());
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert!(serde_json::from_str::<Amount>("{}").is_err());
    }

    /// An amount is a JSON number or a decimal string, nothing else, whether read from
    /// text or from an already parsed value.
    #[test]
    fn only_numbers_and_decimal_strings_are_amounts() {
        for bad in [
            r#"{"value": "1.00"}"#,
            r#"{"value": 1.00}"#,
            r#"{"amount": "1.00", "currency": "USD"}"#,
            r#"["1.00"]"#,
            "[1]",
            "true",
            "null",
            r#""NaN""#,
            r#""Infinity""#,
            r#""-Infinity""#,
            r#""1e2""#,
            "1e2",
            "1.5E-3",
            r#""""#,
            r#"" 1.00x""#,
            "0.123456789",
        ] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad} was accepted");
            let value: serde_json::Value = serde_json::from_str(bad).unwrap();
            assert!(
                serde_json::from_value::<Amount>(value).is_err(),
                "{bad} was accepted as a value"
            );
        }
        let parsed: serde_json::Value = serde_json::from_str("12.50").unwrap();
        let from_value: Amount = serde_json::from_value(parsed).unwrap();
        assert_eq!(from_value.to_string(), "12.50");
    }

    #[test]
    fn money_round_trips_through_json() {
        let m: Money = serde_json::from_str(r#"{"amount": 500.10, "currency": "usd"}"#).unwrap();
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            serde_json::json!({"amount": "500.10", "currency": "USD"})
        );
    }

    fn hostile_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                "-?[0-9]{1,20}(\\.[0-9]{0,10})?",
                Just("NaN".to_owned()),
                Just("Infinity".to_owned()),
                "\\PC{0,12}",
            ]
            .prop_map(Value::String),
            "-?[0-9]{1,20}(\\.[0-9]{1,10})?([eE][+-]?[0-9]{1,3})?"
                .prop_filter_map("a JSON number", |n| serde_json::from_str(&n).ok()),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![Just("value".to_owned()), Just("amount".to_owned()), "[a-z$:]{0,8}"],
                    inner,
                    0..3
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_plain_decimal_round_trips(int in "-?(0|[1-9][0-9]{0,17})", frac in proptest::option::of("[0-9]{1,8}")) {
            let text = match &frac { Some(f) => format!("{int}.{f}"), None => int };
            let a: Amount = text.parse().unwrap();
            prop_assert_eq!(a.value(), Decimal::from_str_exact(&text).unwrap());
            let from_json: Amount = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(from_json, a);
        }

        /// Hostile JSON in an amount's place: accepted only when it is a JSON number
        /// or a string of a plain decimal, and then exactly that decimal.
        #[test]
        fn hostile_json_is_an_amount_only_when_it_is_a_decimal(value in hostile_json()) {
            let text = serde_json::to_string(&value).unwrap();
            let read = serde_json::from_str::<Amount>(&text);
            let plain = |t: &str| t.parse::<Amount>().ok();
            let expected = match &value {
                serde_json::Value::Number(n) => plain(&n.to_string()),
                serde_json::Value::String(s) => plain(s),
                _ => None,
            };
            prop_assert_eq!(read.ok(), expected);
            // Through a parsed value, a non-number is refused just the same.
            if !value.is_number() {
                prop_assert!(serde_json::from_value::<Amount>(value).ok() == expected);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
            let _ = s.parse::<Amount>();
            let _ = Currency::parse(&s);
        }
    }
}
