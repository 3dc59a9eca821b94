"""Titles the sandbox's releases are drawn from: well-known French and world releases."""

from __future__ import annotations

__all__ = [
    "ALBUMS",
    "AUDIO_MISC",
    "BOOKS",
    "COMICS",
    "CONSOLE",
    "EDUCATION",
    "FILMS",
    "MISC",
    "MOBILE",
    "NON_FICTION",
    "NOVELS",
    "PC",
    "PRESS",
    "SERIES",
    "SHOWS",
    "SOFTWARE",
    "SPORTS",
    "STUDIOS",
    "SYSTEMS",
]

# (title, year, TMDB id). The ids are plausible numbers for the sandbox, not a reference.
FILMS = (
    ("Le Fabuleux Destin d'Amélie Poulain", 2001, 194),
    ("Amélie", 2001, 194),
    ("Les Misérables", 2012, 82695),
    ("Les Misérables", 2019, 586863),
    ("La Haine", 1995, 406),
    ("Intouchables", 2011, 77338),
    ("Le Dîner de cons", 1998, 9421),
    ("Les Visiteurs", 1993, 11687),
    ("Astérix & Obélix : Mission Cléopâtre", 2002, 2899),
    ("Bienvenue chez les Ch'tis", 2008, 12407),
    ("Léon", 1994, 101),
    ("Le Cinquième Élément", 1997, 18),
    ("OSS 117 : Le Caire, nid d'espions", 2006, 15152),
    ("Portrait de la jeune fille en feu", 2019, 531428),
    ("Anatomie d'une chute", 2023, 915935),
    ("Le Comte de Monte-Cristo", 2024, 1084736),
    ("The Matrix", 1999, 603),
    ("Inception", 2010, 27205),
    ("Blade Runner 2049", 2017, 335984),
    ("Dune: Part Two", 2024, 693134),
    ("Oppenheimer", 2023, 872585),
    ("Parasite", 2019, 496243),
    ("Le Voyage de Chihiro", 2001, 129),
    ("Pirates des Caraïbes : La Malédiction du Black Pearl", 2003, 22),
    ("The Grand Budapest Hotel", 2014, 120467),
    ("Mad Max: Fury Road", 2015, 76341),
)
# (title, TMDB id, seasons, episodes per season)
SERIES = (
    ("One Piece", 111110, 1, 8),
    ("Lupin", 96677, 3, 5),
    ("Kaamelott", 4589, 6, 12),
    ("Le Bureau des Légendes", 62650, 5, 10),
    ("Dix pour cent", 61664, 4, 6),
    ("Engrenages", 4050, 8, 10),
    ("Les Revenants", 45869, 2, 8),
    ("Breaking Bad", 1396, 5, 13),
    ("The Office", 2316, 9, 22),
    ("Arcane", 94605, 2, 9),
    ("Chernobyl", 87108, 1, 5),
    ("Fleabag", 67070, 2, 6),
)
SHOWS = (
    "Florence Foresti - Madame Foresti",
    "Gad Elmaleh - Papa est en haut",
    "Jamel Debbouze - Maintenant ou jamais",
    "Blanche Gardin - Bonne nuit Blanche",
    "Les Inconnus - Le Spectacle",
    "Cirque du Soleil - Alegría",
    "Notre-Dame de Paris - Le Spectacle musical",
    "Roméo et Juliette - De la Haine à l'Amour",
    "Fary - Hexagone",
)
ALBUMS = (
    ("Stromae", "Multitude", 2022),
    ("Angèle", "Brol", 2018),
    ("Daft Punk", "Random Access Memories", 2013),
    ("Édith Piaf", "La Vie en rose (Best Of)", 2015),
    ("Indochine", "13", 2017),
    ("Christine and the Queens", "Chaleur humaine", 2014),
    ("Serge Gainsbourg", "Histoire de Melody Nelson", 1971),
    ("Zaz", "Zaz", 2010),
    ("Jacques Brel", "Ne me quitte pas", 1972),
    ("Air", "Moon Safari", 1998),
    ("Orelsan", "Civilisation", 2021),
    ("Clara Luciani", "Cœur", 2021),
    ("Björk", "Homogenic", 1997),
)
AUDIO_MISC = (
    "Le Petit Prince - Livre audio",
    "France Inter - Affaires sensibles - Intégrale",
    "Podcast - Les Pieds sur terre - Saison",
    "Bruitages - Sons de la nature",
    "Méthode d'anglais audio - Niveau B2",
    "Méditation guidée - Pack séances",
)
PC = (
    "Baldur's Gate 3",
    "Clair Obscur : Expédition 33",
    "Hollow Knight",
    "Stardew Valley",
    "Disco Elysium - The Final Cut",
    "Cyberpunk 2077",
    "Les Sims 4",
    "Age of Empires II: Definitive Edition",
    "Sid Meier's Civilization VI",
    "Hades II",
)
CONSOLE = (
    ("The Legend of Zelda: Tears of the Kingdom", "Switch"),
    ("Super Mario Odyssey", "Switch"),
    ("Pokémon Écarlate", "Switch"),
    ("Mario Kart 8 Deluxe", "Switch"),
    ("Gran Turismo 7", "PS4"),
    ("Astro Bot", "PS5"),
    ("Rayman Legends", "WiiU"),
    ("Halo Infinite", "XBOX"),
)
MOBILE = (
    "Monument Valley 2",
    "Alto's Odyssey",
    "Dead Cells",
    "Stardew Valley",
    "Terraria",
    "Pocket City",
)
SYSTEMS = (
    "Debian 12.8.0 amd64 DVD-1",
    "Ubuntu 24.04.1 LTS Desktop amd64",
    "Fedora Workstation 41 x86_64 Live",
    "Linux Mint 22 Cinnamon 64-bit",
    "Arch Linux 2025.01.01 x86_64",
    "FreeBSD 14.2 amd64 DVD",
    "Tails 6.10 amd64",
    "Kali Linux 2024.4 Installer amd64",
)
SOFTWARE = (
    "LibreOffice 24.8.3 Win x64 MULTi",
    "GIMP 2.10.38 Setup",
    "Blender 4.2 LTS Windows x64",
    "VLC media player 3.0.21 Win64",
    "Inkscape 1.4 x64",
    "Krita 5.2.6 Win x64",
    "Audacity 3.7.1 x64",
    "OBS Studio 31.0 Full Installer x64",
    "HandBrake 1.9.0 x86_64",
)
NOVELS = (
    "Victor Hugo - Les Misérables (Intégrale)",
    "Albert Camus - L'Étranger",
    "Émile Zola - Germinal",
    "Gustave Flaubert - Madame Bovary",
    "Alexandre Dumas - Le Comte de Monte-Cristo",
    "Marcel Proust - Du côté de chez Swann",
    "Annie Ernaux - Les Années",
    "Joël Dicker - La Vérité sur l'affaire Harry Quebert",
    "J.R.R. Tolkien - Le Seigneur des Anneaux",
    "Jules Verne - Vingt mille lieues sous les mers",
)
COMICS = (
    ("Astérix", "L'Iris blanc", 40),
    ("Blacksad", "Alors, tout tombe", 7),
    ("Les Vieux Fourneaux", "Chauds comme le climat", 8),
    ("Lucky Luke", "Un cow-boy sous pression", 81),
    ("Le Chat", "Le Chat est content", 23),
    ("L'Arabe du futur", "Une jeunesse au Moyen-Orient", 6),
    ("Spirou et Fantasio", "Le Groom de Sniper Alley", 56),
    ("One Piece (VF)", "Le Crépuscule des dieux", 107),
)
NON_FICTION = (
    "Yuval Noah Harari - Sapiens : Une brève histoire de l'humanité",
    "Stephen Hawking - Une brève histoire du temps",
    "Thomas Piketty - Le Capital au XXIe siècle",
    "Jared Diamond - Effondrement",
    "Boris Cyrulnik - Les Vilains Petits Canards",
)
BOOKS = (
    "Le Guide du Routard Japon 2025",
    "Larousse des cocktails",
    "Le Petit Larousse illustré 2025",
    "Atlas des oiseaux de France",
    "Cuisine végétarienne - 200 recettes",
)
PRESS = (
    "Le Monde",
    "Libération",
    "Science & Vie",
    "Le Canard enchaîné",
    "Courrier International",
    "L'Équipe",
    "Télérama",
)
EDUCATION = (
    "Bescherelle - La Conjugaison pour tous",
    "Cours complet de Python 3 - Débutant à expert",
    "Mathématiques Terminale - Annales Bac 2025",
    "Apprendre le japonais - Méthode complète",
    "Physique-Chimie Seconde - Manuel",
    "Histoire-Géographie 3e - Cahier d'exercices",
)
STUDIOS = ("Maison Rouge", "Studio Lumière", "Velvet Pictures", "Boudoir Films")
MISC = (
    "Fonds d'écran 4K - Pack Nature",
    "Polices de caractères - Collection",
    "Sons et samples - Batterie acoustique",
    "Patrons de couture - Automne",
    "Modèles 3D - Architecture",
)
# (competition, fixture): real competitions, made-up fixtures.
SPORTS = (
    ("Ligue 1", "PSG vs OM"),
    ("Ligue 1", "OL vs ASSE"),
    ("Top 14", "Stade Toulousain vs Stade Français"),
    ("Tour de France", "Étape 14 - Pau > Luchon"),
    ("Roland-Garros", "Finale messieurs"),
    ("Formule 1", "Grand Prix de Monaco - Course"),
)
