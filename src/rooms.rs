//! The four fixed rooms chats live in.

/// A room; chats are created in and listed by room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Room {
    Films,
    Music,
    Books,
    Games,
}

impl Room {
    pub const ALL: [Room; 4] = [Room::Films, Room::Music, Room::Books, Room::Games];

    /// The room named exactly `name` (names are lower case, as in the seed).
    pub fn parse(name: &str) -> Option<Room> {
        Room::ALL.into_iter().find(|room| room.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Room::Films => "films",
            Room::Music => "music",
            Room::Books => "books",
            Room::Games => "games",
        }
    }
}

impl std::fmt::Display for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Room {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for room in Room::ALL {
            assert_eq!(Room::parse(room.as_str()), Some(room));
        }
        assert_eq!(Room::parse("Films"), None);
        assert_eq!(Room::parse("movie"), None);
    }
}
