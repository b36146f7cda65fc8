"""Cities and localities for demo listings: real names, pincodes and approximate centres.

Rents are a 1BHK's typical monthly rent in rupees; a locality's `premium`
scales it (Bandra costs more than Malad). Deposits follow local custom:
Bengaluru asks for many months, Delhi NCR for two or three.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locality:
    name: str
    pincode: str
    latitude: float
    longitude: float
    premium: float
    landmarks: tuple[str, ...]


@dataclass(frozen=True)
class City:
    name: str
    state: str
    rent_1bhk: int
    deposit_months: tuple[int, int]
    localities: tuple[Locality, ...]


L = Locality

CITIES: tuple[City, ...] = (
    City("Bengaluru", "Karnataka", 19_000, (5, 10), (
        L("Koramangala", "560034", 12.9352, 77.6245, 1.35, ("Sony World Signal", "Nexus Koramangala Mall")),
        L("Indiranagar", "560038", 12.9719, 77.6412, 1.4, ("100 Feet Road", "Indiranagar Metro Station")),
        L("HSR Layout", "560102", 12.9116, 77.6474, 1.2, ("Agara Lake", "HSR BDA Complex")),
        L("Whitefield", "560066", 12.9698, 77.7500, 1.0, ("ITPL", "Phoenix Marketcity")),
        L("Jayanagar", "560041", 12.9250, 77.5938, 1.15, ("Jayanagar 4th Block Complex", "Madhavan Park")),
        L("Electronic City", "560100", 12.8452, 77.6602, 0.75, ("Infosys Campus", "Electronic City Toll Plaza")),
        L("Marathahalli", "560037", 12.9591, 77.6974, 0.9, ("Marathahalli Bridge", "Innovative Multiplex")),
    )),
    City("Mumbai", "Maharashtra", 30_000, (3, 6), (
        L("Andheri West", "400058", 19.1364, 72.8296, 1.2, ("Lokhandwala Market", "Andheri Station")),
        L("Bandra West", "400050", 19.0596, 72.8295, 1.8, ("Bandstand Promenade", "Linking Road")),
        L("Powai", "400076", 19.1176, 72.9060, 1.35, ("Hiranandani Gardens", "Powai Lake")),
        L("Goregaon East", "400063", 19.1663, 72.8526, 1.0, ("Oberoi Mall", "NESCO Centre")),
        L("Chembur", "400071", 19.0522, 72.9005, 0.95, ("Diamond Garden", "Chembur Station")),
        L("Malad West", "400064", 19.1874, 72.8484, 0.85, ("Infiniti Mall Malad", "Malad Station")),
        L("Lower Parel", "400013", 18.9986, 72.8302, 1.6, ("Phoenix Palladium", "Kamala Mills")),
    )),
    City("Delhi", "Delhi", 17_000, (2, 3), (
        L("Lajpat Nagar", "110024", 28.5677, 77.2433, 1.1, ("Central Market", "Lajpat Nagar Metro Station")),
        L("Dwarka", "110075", 28.5823, 77.0500, 0.85, ("Vegas Mall", "Dwarka Sector 10 Metro Station")),
        L("Saket", "110017", 28.5245, 77.2066, 1.35, ("Select Citywalk", "Saket Metro Station")),
        L("Rohini", "110085", 28.7383, 77.0822, 0.75, ("Rohini West Metro Station", "Adventure Island")),
        L("Mayur Vihar Phase 1", "110091", 28.6077, 77.2946, 0.9, ("Mayur Vihar Metro Station", "Sanjay Lake")),
        L("Karol Bagh", "110005", 28.6519, 77.1909, 0.95, ("Ajmal Khan Road", "Karol Bagh Metro Station")),
        L("Vasant Kunj", "110070", 28.5200, 77.1590, 1.3, ("Ambience Mall Vasant Kunj", "JNU")),
    )),
    City("Pune", "Maharashtra", 15_000, (2, 4), (
        L("Kothrud", "411038", 18.5074, 73.8077, 1.05, ("Karve Road", "Kothrud Depot")),
        L("Baner", "411045", 18.5590, 73.7868, 1.2, ("Balewadi High Street", "Baner Hill")),
        L("Hinjewadi", "411057", 18.5913, 73.7389, 0.95, ("Rajiv Gandhi Infotech Park", "Hinjewadi Phase 1")),
        L("Viman Nagar", "411014", 18.5679, 73.9143, 1.25, ("Phoenix Marketcity Pune", "Pune Airport")),
        L("Kharadi", "411014", 18.5515, 73.9348, 1.1, ("EON IT Park", "World Trade Center Pune")),
        L("Aundh", "411007", 18.5580, 73.8075, 1.15, ("ITI Road", "Westend Mall")),
        L("Wakad", "411057", 18.5990, 73.7600, 0.9, ("Phoenix Mall of the Millennium", "Wakad Bridge")),
    )),
    City("Hyderabad", "Telangana", 15_000, (2, 3), (
        L("Gachibowli", "500032", 17.4401, 78.3489, 1.25, ("DLF Cyber City", "Gachibowli Stadium")),
        L("Madhapur", "500081", 17.4483, 78.3915, 1.3, ("Cyber Towers", "Inorbit Mall")),
        L("Kondapur", "500084", 17.4699, 78.3578, 1.05, ("Botanical Garden", "Kondapur Main Road")),
        L("Banjara Hills", "500034", 17.4156, 78.4347, 1.5, ("KBR Park", "GVK One Mall")),
        L("Kukatpally", "500072", 17.4849, 78.4138, 0.85, ("KPHB Colony", "JNTU Metro Station")),
        L("Begumpet", "500016", 17.4447, 78.4664, 1.0, ("Begumpet Airport", "Lifestyle Building")),
    )),
    City("Chennai", "Tamil Nadu", 14_000, (3, 6), (
        L("Adyar", "600020", 13.0012, 80.2565, 1.3, ("Theosophical Society", "Adyar Depot")),
        L("Velachery", "600042", 12.9815, 80.2180, 1.0, ("Phoenix Marketcity Chennai", "Velachery MRTS")),
        L("Anna Nagar", "600040", 13.0850, 80.2101, 1.25, ("Anna Nagar Tower Park", "Anna Nagar Roundtana")),
        L("T. Nagar", "600017", 13.0418, 80.2341, 1.2, ("Pondy Bazaar", "Panagal Park")),
        L("Sholinganallur", "600119", 12.9010, 80.2279, 0.9, ("OMR IT Corridor", "Sholinganallur Junction")),
        L("Porur", "600116", 13.0382, 80.1565, 0.8, ("Porur Lake", "Ramachandra Hospital")),
    )),
    City("Kolkata", "West Bengal", 11_000, (2, 3), (
        L("Salt Lake", "700091", 22.5800, 88.4150, 1.2, ("City Centre Salt Lake", "Karunamoyee")),
        L("New Town", "700156", 22.5922, 88.4845, 1.05, ("Eco Park", "Biswa Bangla Gate")),
        L("Ballygunge", "700019", 22.5270, 88.3650, 1.4, ("Gariahat Market", "Ballygunge Phari")),
        L("Behala", "700034", 22.4980, 88.3100, 0.75, ("Behala Chowrasta", "Sakher Bazar")),
        L("Park Street", "700016", 22.5530, 88.3520, 1.5, ("Park Street Metro Station", "Allen Park")),
        L("Tollygunge", "700033", 22.4980, 88.3468, 0.95, ("Tollygunge Club", "Tollygunge Metro Station")),
    )),
    City("Gurugram", "Haryana", 20_000, (2, 3), (
        L("DLF Phase 2", "122002", 28.4900, 77.0880, 1.3, ("CyberHub", "Sikanderpur Metro Station")),
        L("Golf Course Road", "122002", 28.4530, 77.1010, 1.6, ("Sector 54 Chowk", "Golf Course Road Metro")),
        L("Sohna Road", "122018", 28.4110, 77.0420, 0.9, ("Vatika City", "Subhash Chowk")),
        L("Sector 56", "122011", 28.4215, 77.1030, 1.0, ("HUDA Market Sector 56", "Rapid Metro Sector 55-56")),
        L("Sushant Lok", "122009", 28.4640, 77.0730, 1.1, ("Galleria Market", "Huda City Centre Metro")),
        L("MG Road", "122002", 28.4795, 77.0800, 1.15, ("MGF Metropolitan Mall", "MG Road Metro Station")),
    )),
    City("Noida", "Uttar Pradesh", 13_000, (2, 3), (
        L("Sector 62", "201309", 28.6270, 77.3720, 1.0, ("Fortis Hospital", "Noida Electronic City Metro")),
        L("Sector 18", "201301", 28.5700, 77.3210, 1.2, ("DLF Mall of India", "Atta Market")),
        L("Sector 50", "201301", 28.5700, 77.3650, 1.1, ("Sector 50 Metro Station", "Central Market Sector 50")),
        L("Sector 137", "201305", 28.5090, 77.4070, 0.85, ("Noida Expressway", "Sector 137 Metro Station")),
    )),
    City("Ahmedabad", "Gujarat", 11_000, (2, 3), (
        L("Satellite", "380015", 23.0300, 72.5170, 1.15, ("Iscon Cross Road", "Shivranjani")),
        L("Prahlad Nagar", "380015", 23.0120, 72.5108, 1.25, ("Prahlad Nagar Garden", "Corporate Road")),
        L("Bodakdev", "380054", 23.0390, 72.5060, 1.2, ("Judges Bungalow Road", "Vastrapur Lake")),
        L("Navrangpura", "380009", 23.0365, 72.5611, 1.05, ("CG Road", "Gujarat University")),
    )),
)  # fmt: skip
