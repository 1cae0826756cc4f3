"""Built-in name lists and e-mail conventions, small enough to keep in the source.

Lists are roughly ordered by US frequency; `zipf` turns the order into draw weights.
"""

from __future__ import annotations

import numpy as np

from lifetide.synth.arraytypes import FloatArray

FEMALE_FIRST = (
    "Emily", "Jessica", "Ashley", "Sarah", "Jennifer", "Amanda", "Elizabeth", "Megan",
    "Lauren", "Samantha", "Hannah", "Olivia", "Emma", "Madison", "Nicole", "Stephanie",
    "Rachel", "Rebecca", "Katherine", "Brittany", "Danielle", "Amber", "Kayla", "Victoria",
    "Michelle", "Alexis", "Christina", "Melissa", "Anna", "Abigail", "Grace", "Sophia",
    "Isabella", "Ava", "Mia", "Chloe", "Natalie", "Alyssa", "Taylor", "Kimberly", "Heather",
    "Amy", "Laura", "Andrea", "Vanessa", "Courtney", "Erin", "Kelly", "Maria", "Julia",
    "Jasmine", "Alexandra", "Gabrielle", "Sydney", "Morgan", "Brianna", "Allison", "Kaitlyn",
    "Haley", "Jordan", "Lindsey", "Caroline", "Catherine", "Mary", "Tiffany", "Kristen",
    "Erica", "Monica", "Angela", "Crystal", "Lisa", "Jacqueline", "Sara",
    "Shannon", "Diana", "Natasha", "Paige", "Brooke", "Jenna", "Claire", "Ella", "Avery",
    "Zoe", "Lily", "Aubrey", "Addison", "Leah", "Audrey", "Savannah", "Layla", "Nora",
    "Riley", "Camila", "Aria", "Scarlett", "Penelope", "Luna", "Stella", "Violet", "Hazel",
    "Aurora", "Naomi", "Ruby", "Eva", "Sadie", "Alice", "Lucy", "Valentina", "Gianna",
    "Ximena", "Daniela", "Gabriela", "Mariana", "Sofia", "Camille", "Adriana", "Veronica",
    "Carmen", "Rosa", "Elena", "Lucia", "Ana", "Yesenia", "Guadalupe", "Alejandra",
    "Priya", "Ananya", "Aisha", "Fatima", "Mei", "Lin", "Yuki", "Hana", "Minji", "Jiwoo",
    "Thuy", "Linh", "Keisha", "Tanisha", "Imani", "Aaliyah", "Destiny", "Ebony", "Latoya",
    "Shanice", "Monique", "Tamika", "Nia", "Zara", "Leila", "Yasmin", "Noor", "Dana",
    "Karen", "Susan", "Patricia", "Linda", "Barbara", "Nancy", "Donna", "Carol", "Sandra",
    "Deborah", "Sharon", "Cynthia", "Kathleen", "Pamela", "Theresa", "Denise", "Tracy",
    "Wendy", "Holly", "Dawn", "Julie", "Kristin", "Tara", "Jill", "Molly", "Bethany",
    "Kendra", "Kelsey", "Chelsea", "Mackenzie", "Delaney", "Harper", "Quinn", "Reese",
    "Blake", "Margaret", "Helen", "Ruth", "Joan", "Evelyn", "Frances", "Gloria", "Teresa",
    "Cheryl", "Renee", "Valerie", "Whitney", "Bianca", "Serena", "Jade", "Ivy", "Iris",
    "Fiona", "Maya", "Nina", "Tessa", "Willow", "Piper", "Eliza", "Josephine", "Genevieve",
)  # fmt: skip

MALE_FIRST = (
    "Michael", "Christopher", "Matthew", "Joshua", "David", "James", "Daniel", "Robert",
    "John", "Joseph", "Andrew", "Ryan", "Brandon", "Jason", "Justin", "William", "Jonathan",
    "Brian", "Kevin", "Eric", "Anthony", "Nicholas", "Tyler", "Alexander", "Kyle", "Jacob",
    "Adam", "Steven", "Thomas", "Benjamin", "Ethan", "Noah", "Liam", "Lucas", "Mason",
    "Logan", "Aiden", "Elijah", "Carlos", "Luis", "Jose", "Juan", "Miguel", "Diego",
    "Mateo", "Rahul", "Arjun", "Omar", "Ali", "Wei", "Jun", "Hiroshi", "Minho", "Marcus",
    "Jamal", "Darnell", "Andre", "Terrence", "Derek", "Sean", "Patrick", "Gregory", "Scott",
    "Mark", "Paul", "Timothy", "Richard", "Charles", "Samuel", "Nathan", "Aaron", "Jordan",
    "Cody", "Travis", "Dustin", "Evan", "Ian", "Caleb", "Owen", "Henry", "Jack", "Leo",
    "Julian", "Gabriel", "Isaac", "Levi", "Xavier", "Dominic", "Vincent", "Victor",
)  # fmt: skip

LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
    "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
    "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson",
    "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson",
    "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West",
    "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar",
    "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen",
    "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson",
    "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon",
    "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt",
    "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan",
    "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce",
    "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott",
    "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews",
    "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews",
    "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Wang",
    "Li", "Zhang", "Liu", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Park", "Choi", "Jung",
    "Kang", "Cho", "Yoon", "Tanaka", "Suzuki", "Sato", "Watanabe", "Pham", "Le", "Hoang",
    "Vu", "Shah", "Singh", "Kumar", "Sharma", "Gupta", "Mehta", "Rao", "Khan", "Ahmed",
    "Hassan", "Ibrahim", "Ali", "Cohen", "Levy", "Friedman", "Katz", "Goldberg", "Rossi",
    "Russo", "Romano", "Ricci", "Costa", "Oliveira", "Pereira", "Novak",
    "Kowalski", "Nowak", "Ivanov", "Petrov", "OBrien", "O'Connor", "O'Neill",
    "McCarthy", "Doyle", "Byrne", "Walsh", "Smith-Jones", "Garcia-Lopez", "Brennan",
    "Gallagher", "Fitzgerald", "Quinn", "Lynch", "Nolan", "Burke",
)  # fmt: skip

EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "icloud.com", "hotmail.com", "outlook.com", "aol.com",
    "comcast.net", "me.com", "msn.com", "live.com", "verizon.net", "att.net", "proton.me",
    "mail.example.com",
)  # fmt: skip
EMAIL_DOMAIN_WEIGHTS = np.array([46, 12, 10, 6, 7, 3, 2, 2, 1.5, 1.5, 1, 1, 1, 6], dtype=np.float64)

# Local-part patterns: 0 first.last, 1 firstlast, 2 first_last, 3 flast, 4 first.l,
# 5 lastfirst, 6 first (only with digits).
EMAIL_PATTERN_WEIGHTS = np.array([34, 22, 6, 14, 6, 6, 12], dtype=np.float64)
EMAIL_PATTERNS = len(EMAIL_PATTERN_WEIGHTS)


def zipf(n: int, exponent: float = 0.7) -> FloatArray:
    """Draw weights for a list ordered from most to least common."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return np.asarray(weights / weights.sum(), dtype=np.float64)
