"""The catalogue behind bench/search.py: 20 cities, their localities, and the words listings are made of.

Localities carry approximate real centres (a few hundred metres off at most),
so radius searches see the clustering of a real city: dense centres, sparse
edges, and neighbouring cities at similar latitudes (Bengaluru and Chennai)
sharing a latitude band. `share` is a city's part of the listings, in percent.

Words are chosen for the selectivity `q` meets in practice: a title adjective
or a common description sentence is in about one listing in twelve, while a
rare feature (`RARE_FEATURES`) is in about one in two hundred, and a locality
name in about one in five hundred.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Locality:
    name: str
    latitude: float
    longitude: float
    premium: float  # multiplies the city's rents: Bandra costs more than Dahisar
    pincode: str


@dataclass(frozen=True)
class City:
    name: str
    state: str
    share: int
    rent_1bhk: int
    localities: tuple[Locality, ...]


# name, state, share of listings (%), typical 1BHK rent, pincode prefix, then "locality lat lng" lines.
# fmt: off
_CITIES = [
    ("Bengaluru", "Karnataka", 11, 19_000, "560", """
        Koramangala 12.935 77.624; Indiranagar 12.972 77.641; HSR Layout 12.912 77.647; Whitefield 12.970 77.750;
        Jayanagar 12.925 77.594; JP Nagar 12.906 77.585; BTM Layout 12.917 77.610; Electronic City 12.845 77.660;
        Marathahalli 12.959 77.697; Bellandur 12.926 77.676; Sarjapur Road 12.901 77.686; Hebbal 13.035 77.597;
        Yelahanka 13.100 77.596; Malleshwaram 13.003 77.570; Rajajinagar 12.991 77.554; Basavanagudi 12.942 77.575;
        Banashankari 12.925 77.547; RT Nagar 13.021 77.595; Frazer Town 12.998 77.614; Ulsoor 12.981 77.626;
        Domlur 12.961 77.638; KR Puram 13.007 77.696; Banaswadi 13.014 77.651; Hennur 13.037 77.643;
        Kalyan Nagar 13.028 77.640; Yeshwanthpur 13.028 77.540; Vijayanagar 12.971 77.533; Kengeri 12.914 77.483;
        Bannerghatta Road 12.887 77.597; Brookefield 12.967 77.716; Sadashivanagar 13.007 77.580;
        Bommanahalli 12.903 77.624
    """),
    ("Mumbai", "Maharashtra", 10, 30_000, "400", """
        Andheri West 19.136 72.830; Andheri East 19.116 72.855; Bandra West 19.060 72.830; Bandra East 19.063 72.847;
        Powai 19.118 72.906; Goregaon East 19.166 72.853; Goregaon West 19.164 72.841; Chembur 19.052 72.900;
        Malad West 19.187 72.848; Lower Parel 18.999 72.830; Worli 19.012 72.818; Dadar 19.018 72.844;
        Juhu 19.107 72.827; Santacruz West 19.081 72.838; Khar West 19.071 72.836; Kandivali West 19.204 72.842;
        Borivali West 19.230 72.857; Mulund West 19.172 72.956; Ghatkopar East 19.079 72.908; Vikhroli 19.110 72.928;
        Colaba 18.907 72.815; Malabar Hill 18.955 72.800; Versova 19.131 72.815; Kurla 19.073 72.880;
        Sion 19.040 72.862; Matunga 19.027 72.850; Byculla 18.979 72.834; Mahim 19.040 72.842;
        Bhandup 19.144 72.937; Dahisar 19.250 72.860; Jogeshwari 19.136 72.849; Wadala 19.018 72.865
    """),
    ("Delhi", "Delhi", 9, 17_000, "110", """
        Lajpat Nagar 28.568 77.243; Dwarka 28.582 77.050; Saket 28.524 77.207; Rohini 28.738 77.082;
        Mayur Vihar 28.608 77.295; Karol Bagh 28.652 77.191; Vasant Kunj 28.520 77.159; Hauz Khas 28.549 77.200;
        Greater Kailash 28.548 77.238; Defence Colony 28.573 77.231; Malviya Nagar 28.534 77.210;
        Janakpuri 28.622 77.088; Rajouri Garden 28.642 77.121; Punjabi Bagh 28.668 77.131; Pitampura 28.699 77.138;
        Model Town 28.716 77.191; Kalkaji 28.543 77.259; Green Park 28.559 77.207; Patel Nagar 28.650 77.169;
        Preet Vihar 28.641 77.295; Laxmi Nagar 28.630 77.277; Paschim Vihar 28.668 77.101; Vikaspuri 28.640 77.072;
        Chittaranjan Park 28.539 77.248; Safdarjung Enclave 28.564 77.195; Shalimar Bagh 28.717 77.163;
        Kirti Nagar 28.648 77.143; Sarita Vihar 28.531 77.290; Uttam Nagar 28.620 77.055; Mukherjee Nagar 28.711 77.209
    """),
    ("Pune", "Maharashtra", 8, 15_000, "411", """
        Kothrud 18.507 73.808; Baner 18.559 73.787; Hinjewadi 18.591 73.739; Viman Nagar 18.568 73.914;
        Kharadi 18.552 73.935; Aundh 18.558 73.808; Wakad 18.599 73.760; Koregaon Park 18.536 73.893;
        Hadapsar 18.503 73.926; Magarpatta 18.515 73.928; Kalyani Nagar 18.548 73.902; Pimple Saudagar 18.598 73.800;
        Balewadi 18.576 73.779; Shivajinagar 18.531 73.847; Deccan Gymkhana 18.516 73.841; Camp 18.513 73.877;
        Wanowrie 18.488 73.898; Kondhwa 18.468 73.890; Undri 18.454 73.917; Bavdhan 18.515 73.772;
        Warje 18.483 73.800; Sinhagad Road 18.477 73.825; Katraj 18.452 73.858; Yerawada 18.553 73.887;
        Pashan 18.536 73.796; Pimpri 18.627 73.800; Chinchwad 18.645 73.790; Wagholi 18.580 73.983
    """),
    ("Hyderabad", "Telangana", 8, 15_000, "500", """
        Gachibowli 17.440 78.349; Madhapur 17.448 78.392; Kondapur 17.470 78.358; Banjara Hills 17.416 78.435;
        Jubilee Hills 17.432 78.407; Kukatpally 17.485 78.414; Begumpet 17.445 78.466; Hitech City 17.447 78.376;
        Miyapur 17.497 78.358; Manikonda 17.405 78.386; Nanakramguda 17.418 78.342; Tolichowki 17.398 78.415;
        Secunderabad 17.440 78.499; Ameerpet 17.437 78.448; Somajiguda 17.424 78.457; Himayatnagar 17.401 78.484;
        Abids 17.392 78.476; Dilsukhnagar 17.369 78.525; LB Nagar 17.350 78.552; Uppal 17.405 78.560;
        Tarnaka 17.428 78.538; Kompally 17.537 78.485; Bachupally 17.547 78.382; Nizampet 17.516 78.385;
        Chanda Nagar 17.493 78.330; Narsingi 17.387 78.358; Mehdipatnam 17.395 78.440; Malkajgiri 17.450 78.532
    """),
    ("Chennai", "Tamil Nadu", 7, 14_000, "600", """
        Adyar 13.001 80.257; Velachery 12.982 80.218; Anna Nagar 13.085 80.210; T. Nagar 13.042 80.234;
        Sholinganallur 12.901 80.228; Porur 13.038 80.157; Mylapore 13.034 80.268; Besant Nagar 13.000 80.267;
        Nungambakkam 13.060 80.243; Kilpauk 13.083 80.242; Guindy 13.007 80.220; Thiruvanmiyur 12.983 80.264;
        Perungudi 12.966 80.246; Thoraipakkam 12.940 80.234; Medavakkam 12.920 80.192; Tambaram 12.925 80.127;
        Chromepet 12.952 80.142; Pallavaram 12.968 80.149; Ashok Nagar 13.037 80.212; KK Nagar 13.040 80.199;
        Vadapalani 13.050 80.212; Kodambakkam 13.052 80.225; Egmore 13.073 80.261; Royapettah 13.054 80.264;
        Alwarpet 13.034 80.254; Valasaravakkam 13.043 80.175
    """),
    ("Gurugram", "Haryana", 6, 20_000, "122", """
        DLF Phase 1 28.471 77.095; DLF Phase 2 28.490 77.088; DLF Phase 3 28.494 77.096; DLF Phase 4 28.466 77.080;
        DLF Phase 5 28.449 77.102; Golf Course Road 28.453 77.101; Sohna Road 28.411 77.042; Sector 56 28.422 77.103;
        Sushant Lok 28.464 77.073; MG Road 28.480 77.080; Palam Vihar 28.505 77.037; South City 28.450 77.062;
        Nirvana Country 28.412 77.062; Sector 49 28.413 77.060; Malibu Towne 28.418 77.055; Sector 14 28.470 77.043;
        Sector 15 28.460 77.035; Udyog Vihar 28.504 77.081; Sector 82 28.388 76.967;
        Golf Course Extension Road 28.405 77.095; New Palam Vihar 28.515 77.012; Dwarka Expressway 28.460 76.995;
        Manesar 28.358 76.938; Ardee City 28.443 77.077
    """),
    ("Noida", "Uttar Pradesh", 5, 13_000, "201", """
        Sector 16 28.578 77.317; Sector 18 28.570 77.321; Sector 19 28.583 77.326; Sector 27 28.572 77.333;
        Sector 29 28.567 77.338; Sector 34 28.587 77.350; Sector 41 28.558 77.353; Sector 44 28.555 77.340;
        Sector 50 28.570 77.365; Sector 51 28.579 77.370; Sector 61 28.600 77.367; Sector 62 28.627 77.372;
        Sector 71 28.592 77.381; Sector 76 28.567 77.383; Sector 78 28.562 77.388; Sector 93 28.522 77.384;
        Sector 100 28.545 77.375; Sector 104 28.540 77.368; Sector 120 28.585 77.395; Sector 128 28.518 77.357;
        Sector 137 28.509 77.407; Sector 150 28.470 77.488; Greater Noida West 28.600 77.430
    """),
    ("Kolkata", "West Bengal", 5, 11_000, "700", """
        Salt Lake 22.580 88.415; New Town 22.592 88.485; Ballygunge 22.527 88.365; Behala 22.498 88.310;
        Park Street 22.553 88.352; Tollygunge 22.498 88.347; Alipore 22.533 88.331; Gariahat 22.518 88.367;
        Jadavpur 22.499 88.371; Garia 22.463 88.389; Kasba 22.516 88.385; Rajarhat 22.620 88.450;
        Dum Dum 22.622 88.425; Lake Town 22.604 88.402; Bhowanipore 22.535 88.345; Esplanade 22.565 88.351;
        Howrah 22.595 88.263; Shyambazar 22.600 88.372; Bagha Jatin 22.485 88.381; Kankurgachi 22.575 88.390;
        Beliaghata 22.565 88.385; Santoshpur 22.490 88.385; Baguiati 22.613 88.430; Sealdah 22.567 88.370
    """),
    ("Ahmedabad", "Gujarat", 4, 11_000, "380", """
        Satellite 23.030 72.517; Prahlad Nagar 23.012 72.511; Bodakdev 23.039 72.506; Navrangpura 23.037 72.561;
        Vastrapur 23.037 72.529; Thaltej 23.050 72.508; Bopal 23.034 72.464; South Bopal 23.018 72.470;
        Gota 23.103 72.540; Chandkheda 23.110 72.585; Maninagar 22.996 72.603; Paldi 23.010 72.565;
        Ellisbridge 23.022 72.565; Ambawadi 23.020 72.548; Naranpura 23.055 72.552; Shahibaug 23.055 72.595;
        Science City 23.075 72.505; Vejalpur 23.000 72.520; Sola 23.070 72.520; Motera 23.095 72.600;
        Nikol 23.045 72.665; Vastral 23.000 72.660
    """),
    ("Jaipur", "Rajasthan", 3, 10_000, "302", """
        Malviya Nagar 26.853 75.805; Vaishali Nagar 26.912 75.742; C Scheme 26.910 75.800; Mansarovar 26.857 75.763;
        Raja Park 26.895 75.827; Jagatpura 26.827 75.858; Tonk Road 26.850 75.800; Bani Park 26.930 75.795;
        Civil Lines 26.905 75.785; Sodala 26.905 75.770; Jhotwara 26.945 75.745; Sanganer 26.820 75.790;
        Pratap Nagar 26.800 75.820; Sitapura 26.775 75.850; Bapu Nagar 26.885 75.810; Ajmer Road 26.900 75.720;
        Durgapura 26.840 75.795; Shyam Nagar 26.890 75.765; Adarsh Nagar 26.900 75.835; Gopalpura 26.870 75.785;
        Tilak Nagar 26.895 75.820; Vidhyadhar Nagar 26.960 75.780
    """),
    ("Kochi", "Kerala", 3, 11_000, "682", """
        Kakkanad 10.016 76.341; Edappally 10.024 76.308; Kaloor 9.997 76.292; Palarivattom 10.005 76.307;
        Vyttila 9.968 76.318; Kadavanthra 9.966 76.299; Panampilly Nagar 9.958 76.295; Marine Drive 9.977 76.277;
        Fort Kochi 9.965 76.242; Thrippunithura 9.945 76.346; Aluva 10.108 76.351; Kalamassery 10.052 76.318;
        Thevara 9.938 76.296; Elamakkara 10.019 76.291; Chittoor Road 9.976 76.285; Maradu 9.935 76.323;
        Vennala 10.000 76.325; Pachalam 10.003 76.280; Vazhakkala 10.015 76.330; Mattancherry 9.958 76.259
    """),
    ("Chandigarh", "Chandigarh", 3, 13_000, "160", """
        Sector 7 30.735 76.800; Sector 8 30.742 76.805; Sector 9 30.745 76.790; Sector 10 30.750 76.783;
        Sector 11 30.758 76.770; Sector 15 30.750 76.765; Sector 16 30.745 76.775; Sector 21 30.730 76.770;
        Sector 22 30.733 76.778; Sector 27 30.720 76.795; Sector 33 30.715 76.775; Sector 35 30.725 76.760;
        Sector 38 30.740 76.740; Sector 44 30.710 76.750; Sector 46 30.705 76.765; Manimajra 30.715 76.835;
        Industrial Area 30.705 76.800; Mohali Phase 7 30.710 76.720; Zirakpur 30.645 76.817;
        Panchkula Sector 20 30.680 76.865
    """),
    ("Lucknow", "Uttar Pradesh", 3, 9_000, "226", """
        Gomti Nagar 26.850 81.000; Hazratganj 26.850 80.945; Indira Nagar 26.870 80.990; Aliganj 26.890 80.940;
        Mahanagar 26.875 80.960; Aminabad 26.845 80.925; Alambagh 26.810 80.900; Jankipuram 26.930 80.940;
        Vikas Nagar 26.890 80.960; Rajajipuram 26.840 80.880; Ashiyana 26.790 80.915; Chinhat 26.880 81.040;
        Sushant Golf City 26.770 81.010; Vibhuti Khand 26.860 81.005; Kapoorthala 26.885 80.945;
        Nishatganj 26.865 80.955; Charbagh 26.832 80.922; Telibagh 26.780 80.950; Faizabad Road 26.870 81.010;
        Vrindavan Yojana 26.780 80.980
    """),
    ("Indore", "Madhya Pradesh", 3, 8_500, "452", """
        Vijay Nagar 22.750 75.895; Palasia 22.725 75.885; Rau 22.630 75.810; Bhawarkua 22.690 75.865;
        Sudama Nagar 22.690 75.830; Rajendra Nagar 22.680 75.850; Scheme 54 22.755 75.890; Scheme 78 22.760 75.900;
        AB Road 22.740 75.890; Nipania 22.765 75.920; Bicholi Mardana 22.720 75.930; Annapurna 22.690 75.840;
        Khajrana 22.735 75.905; MR 10 22.770 75.880; Super Corridor 22.780 75.840; Saket Nagar 22.720 75.890;
        Sapna Sangeeta 22.700 75.870; Manik Bagh 22.700 75.850; Tilak Nagar 22.720 75.895;
        Mahalaxmi Nagar 22.760 75.910
    """),
    ("Coimbatore", "Tamil Nadu", 3, 9_000, "641", """
        RS Puram 11.010 76.950; Gandhipuram 11.018 76.968; Peelamedu 11.030 77.020; Saibaba Colony 11.025 76.940;
        Race Course 11.000 76.975; Singanallur 10.999 77.030; Saravanampatti 11.080 77.000; Vadavalli 11.025 76.900;
        Ganapathy 11.040 76.980; Ramanathapuram 10.995 76.990; Kovaipudur 10.945 76.930; Thudiyalur 11.080 76.945;
        Kuniyamuthur 10.965 76.955; Sitra 11.040 77.040; Hope College 11.025 77.010; Podanur 10.965 76.985;
        Kalapatti 11.075 77.040; Vilankurichi 11.060 77.015; Sundarapuram 10.960 76.970; Town Hall 10.995 76.960
    """),
    ("Nagpur", "Maharashtra", 2, 8_500, "440", """
        Dharampeth 21.140 79.070; Civil Lines 21.155 79.075; Sadar 21.160 79.085; Ramdaspeth 21.135 79.080;
        Manish Nagar 21.085 79.075; Pratap Nagar 21.115 79.060; Bajaj Nagar 21.125 79.065;
        Trimurti Nagar 21.110 79.050; Wardha Road 21.090 79.080; Hingna 21.095 78.990; Besa 21.070 79.090;
        Manewada 21.100 79.110; Nandanvan 21.130 79.125; Sitabuldi 21.145 79.085; Gandhibagh 21.150 79.105;
        Mankapur 21.180 79.080; Koradi Road 21.195 79.090; Jaripatka 21.180 79.100; Wathoda 21.135 79.145;
        Friends Colony 21.160 79.050
    """),
    ("Bhopal", "Madhya Pradesh", 2, 8_000, "462", """
        Arera Colony 23.215 77.435; MP Nagar 23.230 77.435; Kolar Road 23.180 77.415; Shahpura 23.200 77.425;
        Hoshangabad Road 23.185 77.460; Bairagarh 23.265 77.335; Ayodhya Bypass 23.280 77.450;
        Indrapuri 23.250 77.470; Govindpura 23.245 77.450; Awadhpuri 23.235 77.495; Shyamla Hills 23.240 77.395;
        TT Nagar 23.235 77.400; Kotra Sultanabad 23.225 77.415; Char Imli 23.220 77.425; Bawadiya Kalan 23.175 77.440;
        Katara Hills 23.165 77.470; Misrod 23.160 77.480; Saket Nagar 23.205 77.460; Piplani 23.255 77.485;
        Lalghati 23.270 77.375
    """),
    ("Visakhapatnam", "Andhra Pradesh", 2, 9_500, "530", """
        MVP Colony 17.740 83.335; Madhurawada 17.805 83.360; Seethammadhara 17.740 83.310;
        Dwaraka Nagar 17.730 83.305; Rushikonda 17.780 83.385; Gajuwaka 17.690 83.210; Pendurthi 17.810 83.200;
        Gopalapatnam 17.755 83.240; Akkayyapalem 17.735 83.290; Asilmetta 17.725 83.310; Siripuram 17.720 83.315;
        Lawsons Bay Colony 17.730 83.330; Yendada 17.770 83.365; PM Palem 17.790 83.355; Marripalem 17.745 83.260;
        Kancharapalem 17.735 83.275; NAD Junction 17.745 83.235; Beach Road 17.715 83.325; Arilova 17.765 83.320;
        Kommadi 17.830 83.375
    """),
    ("Surat", "Gujarat", 3, 9_000, "395", """
        Adajan 21.195 72.795; Vesu 21.140 72.780; Piplod 21.155 72.770; Athwa 21.180 72.810;
        Ghod Dod Road 21.175 72.805; Citylight 21.160 72.795; Pal 21.200 72.770; Katargam 21.230 72.830;
        Varachha 21.210 72.860; Udhna 21.165 72.845; Althan 21.150 72.810; Parle Point 21.170 72.790;
        Dumas Road 21.130 72.745; Nanpura 21.190 72.815; Rander 21.220 72.795; Bhatar 21.165 72.825;
        Palanpur 21.205 72.760; Jahangirpura 21.230 72.780; Sarthana 21.230 72.900; Kamrej 21.270 72.960
    """),
]
# fmt: on


def _localities(pincode_prefix: str, table: str) -> tuple[Locality, ...]:
    found = []
    for n, entry in enumerate(e.strip() for e in table.split(";")):
        name, lat, lng = entry.rsplit(maxsplit=2)
        # A stable premium from the name, 0.75 to 1.54: no table to keep, the same on every run.
        premium = 0.75 + (zlib.crc32(name.encode()) % 80) / 100
        found.append(Locality(name, float(lat), float(lng), premium, f"{pincode_prefix}{n + 1:03d}"))
    return tuple(found)


CITIES: tuple[City, ...] = tuple(
    City(name, state, share, rent, _localities(pin, table)) for name, state, share, rent, pin, table in _CITIES
)

BHK_TYPES = ("1BHK", "2BHK", "3BHK", "4BHK+")
BHK_WEIGHTS = (30, 40, 22, 8)
BHK_RENT_FACTOR = {"1BHK": 1.0, "2BHK": 1.6, "3BHK": 2.3, "4BHK+": 3.4}
PROPERTY_TYPES = ("apartment", "villa", "independent_house", "pg")
PROPERTY_TYPE_WEIGHTS = (70, 5, 15, 10)
TYPE_RENT_FACTOR = {"apartment": 1.0, "villa": 1.8, "independent_house": 0.9, "pg": 0.45}
KIND_WORDS = {"apartment": "apartment", "villa": "villa", "independent_house": "independent house", "pg": "PG room"}
FURNISHINGS = ("unfurnished", "semi-furnished", "fully-furnished")

# Twelve title words: each in about one title in twelve.
TITLE_WORDS = (
    "Spacious", "Bright", "Sunny", "Cosy", "Airy", "Renovated", "Modern", "Elegant", "Quiet", "Charming",
    "Peaceful", "Stylish",
)  # fmt: skip

# Two of these in every description: each sentence in about one listing in twelve.
COMMON_SENTENCES = (
    "Cross-ventilated rooms get sunlight through the day.",
    "The society has round-the-clock security and a well-kept lawn.",
    "Modular kitchen with a chimney and a hob.",
    "Quiet lane, yet the main road and autos are two minutes away.",
    "Corporation water and a borewell, so there is water all day.",
    "Ideal for working professionals with a short commute.",
    "Vitrified tiles throughout and a freshly painted interior.",
    "Covered parking for a car and a two-wheeler.",
    "Power backup for the lights and fans in every room.",
    "Wardrobes in every bedroom and a loft for storage.",
    "Lift and intercom in the building.",
    "Families and bachelors are both welcome.",
    "Gym and swimming pool in the complex.",
    "Children's play area and a jogging track downstairs.",
    "Balcony with a view of the greenery around.",
    "Piped gas connection, no cylinders to book.",
    "Shops, pharmacies and restaurants a short walk away.",
    "Brokerage free, deal directly with the owner.",
    "Well maintained building with regular housekeeping.",
    "Large windows and plenty of natural light.",
    "Washing machine area with a utility balcony.",
    "Close to schools, hospitals and a supermarket.",
    "Rainwater harvesting and solar lights in the common areas.",
    "Spacious hall that fits a dining table for six.",
)

# One of these in about half the descriptions: each first word in about one listing in 200.
# The first word of each is what a renter types into the search box for it.
RARE_FEATURES = (
    "Jacuzzi in the master bathroom.", "Terrace garden on the roof, private to this flat.",
    "Penthouse with an open sky deck.", "Duplex layout over two floors.", "Skylight above the staircase.",
    "Bay window with a reading seat.", "Hardwood floors in the bedrooms.", "Italian marble in the living room.",
    "Geyser in both bathrooms.", "Servant quarter with its own entrance.", "Pooja room near the kitchen.",
    "Study with built-in bookshelves.", "Walk-in closet in the master bedroom.", "Fireplace in the living room.",
    "Barbecue corner on the terrace.", "Treehouse in the garden for the children.",
    "Aquarium wall between the hall and the dining area.", "Sauna in the clubhouse.",
    "Squash court in the complex.", "Badminton court in the complex.", "Tennis court next to the clubhouse.",
    "Library on the ground floor of the tower.", "Amphitheatre for society events.",
    "Coworking lounge in the clubhouse.", "Creche in the complex for working parents.",
    "Greenhouse on the terrace.", "Orchard with mango and chikoo trees.", "Courtyard in the middle of the house.",
    "Verandah facing the east.", "Gazebo in the garden.", "Swing on the balcony.",
    "Mezzanine floor above the hall.", "Basement with space for a home office.", "Cellar for storage.",
    "Attic room under the sloping roof.", "Backyard with a small vegetable patch.",
    "Rockery at the entrance.", "Porch with space for two cars.", "Chandelier in the double-height hall.",
    "Soundproof windows on the road side.", "Automation for lights and curtains from the phone.",
    "Inverter that runs the whole flat.", "Generator for full power backup.", "Rainshower fittings in both bathrooms.",
    "Sump of twenty thousand litres.", "Purifier for drinking water in the kitchen.",
    "Dishwasher and a built-in oven.", "Refrigerator and washing machine included.",
    "Sofa set and dining table included.", "Projector and screen in the living room.",
    "Piano room with acoustic panels.", "Yoga deck by the pool.", "Meditation room with a garden view.",
    "Steam room in the clubhouse.", "Infinity pool on the rooftop.", "Heated pool open all year.",
    "Cricket net practice area in the complex.", "Skating rink for the children.",
    "Cycling track around the complex.", "Pet park for dogs in the complex.",
    "Concierge at the front desk.", "Valet parking for guests.", "Shuttle to the metro station.",
    "Ramp and wide doors for wheelchairs.", "Elevator inside the villa.", "Helipad on the commercial tower next door.",
    "Seaview from the bedroom.", "Riverside walk at the back gate.", "Hillside views from every room.",
    "Lakeview from the balcony.", "Forest reserve behind the society.", "Heritage building, carefully restored.",
    "Bungalow style with a sloping roof.", "Cottage feel with exposed brick.", "Farmhouse style kitchen.",
    "Split-level bedroom over the living room.", "Studio layout, ideal for one.", "Annexe for guests or parents.",
    "Outhouse for a driver.", "Godown space on the ground floor.", "Shopfront on the street side.",
    "Clinic space on the ground floor, allowed by the society.", "Vastu compliant, east facing entrance.",
    "Earthquake resistant structure, certified.", "Rooftop solar that covers the common areas.",
    "Biogas plant for the kitchen waste.", "Composting unit for the society.",
    "Firefighting system with sprinklers in every flat.", "Cctv in the corridors and at the gate.",
    "Biometric entry at the tower lobby.", "Fibre internet already installed.", "Smart lock on the main door.",
    "Marble staircase to the upper floor.", "Woodwork in every room, done last year.",
    "Granite counters in the kitchen.", "Teakwood doors throughout.", "Jaali screens on the west windows.",
    "Tulsi planter in the courtyard.", "Banyan tree shading the front yard.", "Koi pond in the garden.",
)  # fmt: skip

NEARBY = (
    "metro station", "bus stop", "railway station", "market", "hospital", "school", "park", "mall", "IT park",
    "temple", "lake", "college",
)  # fmt: skip

AMENITIES = (
    "lift", "power backup", "24x7 security", "gym", "swimming pool", "clubhouse", "children's play area",
    "gated community", "CCTV", "intercom", "rainwater harvesting", "visitor parking", "piped gas", "wifi",
)  # fmt: skip
